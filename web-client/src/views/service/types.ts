/** The service-quality answers, as the server's schema says (schema.d.ts); nothing re-declared. */
import type { Answer } from '../../api/api.ts';

export type QualityReport = Answer<'/api/service/quality', 'get'>;
export type BrokerRow = QualityReport['brokers'][number];
export type GroupRow = QualityReport['total'];
export type SeriesPoint = QualityReport['series'][number];
export type Scopes = Answer<'/api/service/scopes', 'get'>;
/** What a row of either table has: the period's figures and the current ones. */
export type Figures = Omit<GroupRow, 'id' | 'name' | 'brokers'>;
