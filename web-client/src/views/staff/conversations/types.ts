/**
 * The shapes of the conversation API, taken from the generated schema. The route schemas declare no
 * `required` lists, so every field is optional there; the server always sends them, and `Filled`
 * states that once, at the boundary where answers come in (conversations-store.ts, use-thread.ts).
 */
import type { Answer } from '../../../api/api.ts';

/** Optional fields made present, recursively (null stays null). */
export type Filled<T> = T extends readonly (infer U)[] ? Filled<U>[] : T extends object ? { [K in keyof T]-?: Filled<NonNullable<T[K]> | Extract<T[K], null>> } : T;

export type Conv = Filled<NonNullable<Answer<'/api/conversations', 'get'>['conversations']>[number]>;
export type ReadState = Filled<NonNullable<Answer<'/api/conversations/{id}', 'get'>['reads']>[number]>;
export type WorkRow = Filled<NonNullable<Answer<'/api/workstation/clients', 'get'>['clients']>[number]>;
export type Presence = 'online' | 'away' | 'offline';
export type LastMessage = Conv['lastMessage'];
