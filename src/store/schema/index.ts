export * from './org.ts';
export * from './users.ts';
export * from './channels.ts';
export * from './audit.ts';
