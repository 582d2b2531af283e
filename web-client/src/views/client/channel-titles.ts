/** Channel titles in the current language, for labelling items by the channel they came from. */
import { useMemo } from 'preact/hooks';
import { api, call } from '../../api/api.ts';
import { lang, titleOf } from '../../i18n/i18n.ts';
import { useLoad } from '../../ui/use-load.ts';

export function useChannelTitles(): (name: string) => string {
  const list = useLoad(async () => (await call(api.GET('/api/channels'))).channels, []);
  const l = lang.value;
  return useMemo(() => {
    const m = new Map((list.data ?? []).map((c) => [c.name, titleOf(c.title, c.name)]));
    return (name: string) => m.get(name) ?? name;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list.data, l]);
}
