/** Everything a running hub node is made of, built once per app (no module-level singletons). */
import type { FastifyBaseLogger } from 'fastify';
import type { SessionGuard } from './auth/sessions.ts';
import type { TokenService } from './auth/token.ts';
import type { TotpService } from './auth/totp.ts';
import type { Bus } from './bus/bus.ts';
import type { Config } from './config/config.ts';
import type { SessionRegistry } from './gateway/session-registry.ts';
import type { Hub } from './hub/hub.ts';
import type { Publisher } from './hub/publisher.ts';
import type { Metrics } from './metrics.ts';
import type { DlpService } from './compliance/dlp.ts';
import type { ArchiveRepo } from './store/archive-repo.ts';
import type { AuditRepo } from './store/audit-repo.ts';
import type { JobQueue } from './queue/queue.ts';
import type { DbHandle } from './store/db.ts';
import type { DeliveriesRepo } from './store/deliveries-repo.ts';
import type { InboxRepo } from './store/inbox-repo.ts';
import type { PrefsRepo } from './store/prefs-repo.ts';
import type { RecipientsRepo } from './store/recipients-repo.ts';
import type { MessagesRepo } from './store/messages-repo.ts';
import type { SubscriptionsRepo } from './store/subscriptions-repo.ts';
import type { UsersRepo } from './store/users-repo.ts';
import type { ConversationLive } from './conversations/live.ts';
import type { Presence } from './presence/presence.ts';
import type { AssignmentsRepo } from './store/assignments-repo.ts';
import type { ConversationsRepo } from './store/conversations-repo.ts';
import type { ApprovalsService } from './advisory/approvals.ts';
import type { RecommendationsService } from './advisory/recommendations.ts';
import type { TasksService } from './advisory/tasks.ts';
import type { AlertEngine } from './domain/alert-engine.ts';
import type { AlertRulesRepo } from './store/alert-rules-repo.ts';
import type { PushRepo } from './store/push-repo.ts';
import type { SecuritiesDirectory } from './domain/securities.ts';
import type { SweepRunner } from './service/sweeps.ts';
import type { AccountEventsService } from './account/account-events.ts';
import type { AccountFeed } from './account/account-feed.ts';
import type { CorporateActionsService } from './account/corporate-actions.ts';
import type { PositionsRepo } from './account/positions.ts';
import type { ComplaintsService } from './service/complaints.ts';
import type { FollowupCoverage } from './service/followup-coverage.ts';
import type { FollowupRules } from './service/followup-rules.ts';
import type { FollowupsService } from './service/followups.ts';
import type { SurveysService } from './service/surveys.ts';
import type { RemindersService } from './service/reminders.ts';

export interface AppDeps {
  config: Config;
  logger: FastifyBaseLogger;
  db: DbHandle;
  bus: Bus;
  /** Verifies tokens and checks the account's session version and state (SessionGuard.wrap). */
  tokens: TokenService;
  /** Session revocation and account-state changes across nodes. */
  sessions: SessionGuard;
  /** TOTP second factor: enrolment, codes, recovery codes, login challenge (src/auth/totp.ts). */
  totp: TotpService;
  users: UsersRepo;
  subscriptions: SubscriptionsRepo;
  messages: MessagesRepo;
  archive: ArchiveRepo;
  audit: AuditRepo;
  metrics: Metrics;
  hub: Hub;
  publisher: Publisher;
  registry: SessionRegistry;
  /** Who is online/away (MemoryPresence embedded, RedisPresence in services mode). */
  presence: Presence;
  /** Conversations, client assignment, and their live side (revocation, typing, receipts, presence). */
  conversations: ConversationsRepo;
  assignments: AssignmentsRepo;
  live: ConversationLive;
  /** Recommendations (suitability gate), compliance approvals, team tasks (src/advisory/). */
  advisory: { recommendations: RecommendationsService; approvals: ApprovalsService; tasks: TasksService };
  /** DLP dictionary and screening (src/compliance/dlp.ts). */
  dlp: DlpService;
  /** Job queue: MemoryQueue in embedded mode, BullMQ on Redis in services mode. */
  queue: JobQueue;
  /** Delivery tracking, inbox and notification preferences. */
  delivery: { deliveries: DeliveriesRepo; inbox: InboxRepo; prefs: PrefsRepo; recipients: RecipientsRepo };
  /** Web push subscriptions and the VAPID key pair. */
  push: PushRepo;
  /** Price-alert rules (Postgres) and this node's evaluation engine. */
  alertRules: AlertRulesRepo;
  alerts: AlertEngine;
  /** The securities directory (static, src/domain/securities.ts). */
  securities: SecuritiesDirectory;
  /** Account events, positions and corporate actions (src/account/; docs/account-events.md). */
  account: { events: AccountEventsService; positions: PositionsRepo; actions: CorporateActionsService; feed: AccountFeed };
  /** Broker service sweeps of this node (reminders, follow-ups, surveys, complaint deadlines); tests call `runOnce`. */
  sweeper?: SweepRunner;
  // <service-deps> (issue 11): each part adds its service here.
  /** Complaints (投诉处理, src/service/complaints.ts). */
  complaints?: ComplaintsService;
  /** Follow-up rules, follow-ups (客户回访) and their coverage report (src/service/followup*.ts). */
  followups?: { rules: FollowupRules; service: FollowupsService; coverage: FollowupCoverage };
  /** Satisfaction surveys (满意度调查, src/service/surveys.ts). */
  surveys?: SurveysService;
  /** Work reminders (工作提醒, src/service/reminders.ts). */
  reminders?: RemindersService;
}
