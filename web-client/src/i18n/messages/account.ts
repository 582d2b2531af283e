/**
 * Strings of the account security views: TOTP enrolment and login second step, recovery codes, password change.
 * zh-CN first; the English table must have every key (a missing one is a compile error).
 */
import { defineMessages } from '../define.ts';

export default defineMessages(
  {
  },
  {
  },
);
