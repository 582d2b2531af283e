/**
 * Strings of the compliance and admin views: approvals, legal holds, DLP dictionary, archive and conversation viewer, broadcasts, deliveries, dead letters.
 * zh-CN first; the English table must have every key (a missing one is a compile error).
 */
import { defineMessages } from '../define.ts';

export default defineMessages(
  {
  },
  {
  },
);
