/**
 * Recent research notes the user may read, to link a recommendation to the note it rests on: the
 * newest notes of every research channel the user is entitled to (channel history), newest first.
 */
import type { PublicationFrame } from '../../../../../src/gateway/protocol.ts';
import { api, call } from '../../../api/api.ts';
import { useLoad, type Loaded } from '../../../ui/use-load.ts';

export interface NoteRef {
  id: string;
  channel: string;
  title: string;
  time: string;
}

const PER_CHANNEL = 10;
const MAX_NOTES = 40;

export function useRecentNotes(): Loaded<NoteRef[]> {
  return useLoad(async () => {
    const channels = (await call(api.GET('/api/channels'))).channels.filter((c) => c.family === 'research' && c.entitled);
    const pages = await Promise.all(
      channels.map((c) =>
        call(api.GET('/api/channels/{channel}/history', { params: { path: { channel: c.name }, query: { limit: PER_CHANNEL } } })).then(
          (r) => (r.publications ?? []) as PublicationFrame[],
          () => [] as PublicationFrame[],
        ),
      ),
    );
    return pages
      .flat()
      .filter((p) => p.kind === 'note')
      .map((p) => {
        const title = (p.payload as { title?: unknown } | null)?.title;
        return { id: p.id, channel: p.channel, title: typeof title === 'string' ? title : p.id, time: p.time };
      })
      .sort((a, b) => (a.time > b.time ? -1 : a.time < b.time ? 1 : 0))
      .slice(0, MAX_NOTES);
  }, []);
}
