export * from './org.ts';
export * from './users.ts';
export * from './channels.ts';
export * from './conversations.ts';
export * from './audit.ts';
export * from './advisory.ts';
export * from './compliance.ts';
export * from './delivery.ts';
