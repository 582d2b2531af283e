/**
 * The user's live task feed `tasks.<userId>` (managers: task.created and every recipient's
 * task.progress; brokers: task.assigned). Views reload their snapshot when the feed says something
 * changed and once the subscription is live, so nothing falls between the snapshot and the feed.
 * Returns a number that changes at each of those moments (use it as a load dependency) and whether
 * the feed is live.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { live, liveChannels, user } from '../../../app/session.ts';

const SETTLE_MS = 150;

export function useTaskFeed(): { tick: number; live: boolean } {
  const id = user.value?.id;
  const channel = id ? `tasks.${id}` : '';
  const [tick, setTick] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    if (!channel) return;
    const stop = live.listen(channel, () => {
      // Bursts (a team's progress) settle into one reload.
      clearTimeout(timer.current);
      timer.current = setTimeout(() => setTick((n) => n + 1), SETTLE_MS);
    });
    return () => {
      clearTimeout(timer.current);
      stop();
    };
  }, [channel]);
  const isLive = channel !== '' && liveChannels.value.has(channel);
  useEffect(() => {
    if (isLive) setTick((n) => n + 1);
  }, [isLive]);
  return { tick, live: isLive };
}
