/** Everything a running hub node is made of, built once per app (no module-level singletons). */
import type { FastifyBaseLogger } from 'fastify';
import type { TokenService } from './auth/token.ts';
import type { Bus } from './bus/bus.ts';
import type { Config } from './config/config.ts';
import type { SessionRegistry } from './gateway/session-registry.ts';
import type { Hub } from './hub/hub.ts';
import type { Publisher } from './hub/publisher.ts';
import type { Metrics } from './metrics.ts';
import type { ArchiveRepo } from './store/archive-repo.ts';
import type { AuditRepo } from './store/audit-repo.ts';
import type { DbHandle } from './store/db.ts';
import type { MessagesRepo } from './store/messages-repo.ts';
import type { SubscriptionsRepo } from './store/subscriptions-repo.ts';
import type { UsersRepo } from './store/users-repo.ts';

export interface AppDeps {
  config: Config;
  logger: FastifyBaseLogger;
  db: DbHandle;
  bus: Bus;
  tokens: TokenService;
  users: UsersRepo;
  subscriptions: SubscriptionsRepo;
  messages: MessagesRepo;
  archive: ArchiveRepo;
  audit: AuditRepo;
  metrics: Metrics;
  hub: Hub;
  publisher: Publisher;
  registry: SessionRegistry;
}
