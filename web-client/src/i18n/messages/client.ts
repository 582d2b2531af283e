/**
 * Strings of the the client's views: inbox, recommendations received, watchlist, price alerts, notification settings.
 * zh-CN first; the English table must have every key (a missing one is a compile error).
 */
import { defineMessages } from '../define.ts';

export default defineMessages(
  {
  },
  {
  },
);
