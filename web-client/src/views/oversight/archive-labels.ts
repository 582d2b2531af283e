/** Labels of archive records: the record kind, and a message record's own kind (chat, edit, recall). */
import { tOr } from '../../i18n/i18n.ts';
import { recordMessage, type ArchiveRecord } from './types.ts';

export function recordKindLabel(r: ArchiveRecord): string {
  if (r.kind === 'message') {
    const k = recordMessage(r).kind;
    if (k) return tOr(`ovMsgKind_${k}`, tOr(`kind_${k}`, k));
  }
  return tOr(`ovRecordKind_${r.kind}`, r.kind ?? '');
}
