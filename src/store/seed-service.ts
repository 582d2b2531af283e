/**
 * Demo history of the broker service (issue 11), run by seedDemo once the demo firm exists: a few
 * weeks of conversations, recommendations, tasks, follow-ups, surveys, reminders and complaints for
 * the demo team, so every service view shows real numbers on first start. Each part seeds its own.
 */
import type { Db } from './db.ts';
import { seedServiceReminders } from './seed-service-reminders.ts';
import { seedServiceFollowups } from './seed-service-followups.ts';
import { seedServiceComplaints } from './seed-service-complaints.ts';

export async function seedServiceDemo(db: Db): Promise<void> {
  void db;
  // <service-seed>: each part's seeding, in this order (history first: later parts refer to it).
  await seedServiceReminders(db);
  await seedServiceFollowups(db);
  await seedServiceComplaints(db);
}
