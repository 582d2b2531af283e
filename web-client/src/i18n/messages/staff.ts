/**
 * Strings of the broker, manager and research desk views: conversations, workstation, recommendations sent, tasks, team view, team notices, research compose and notes.
 * zh-CN first; the English table must have every key (a missing one is a compile error).
 */
import { defineMessages } from '../define.ts';

export default defineMessages(
  {
  },
  {
  },
);
