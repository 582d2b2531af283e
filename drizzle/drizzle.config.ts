import { defineConfig } from 'drizzle-kit';

// Migrations are generated from src/store/schema by `npm run db:generate`; never edit the SQL by hand.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/schema/index.ts',
  out: './drizzle/migrations',
});
