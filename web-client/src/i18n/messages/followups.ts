/**
 * Strings of the followups views (issue 11). zh-CN first; the English table must have every key.
 */
import { defineMessages } from '../define.ts';

export default defineMessages(
  {
    followupsTitle: 'followups',
  },
  {
    followupsTitle: 'followups',
  },
);
