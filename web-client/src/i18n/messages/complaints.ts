/**
 * Strings of the complaints views (issue 11). zh-CN first; the English table must have every key.
 */
import { defineMessages } from '../define.ts';

export default defineMessages(
  {
    complaintsTitle: 'complaints',
  },
  {
    complaintsTitle: 'complaints',
  },
);
