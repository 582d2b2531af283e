/**
 * Strings of the admin console: organisation, users, client profiles, client list, CSV import.
 * zh-CN first; the English table must have every key (a missing one is a compile error).
 */
import { defineMessages } from '../define.ts';

export default defineMessages(
  {
  },
  {
  },
);
