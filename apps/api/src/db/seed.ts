/**
 * `npm run db:seed`: replaces the items with a small, recognisable demo set (Tilt's "reseed"
 * button). Destructive on purpose, so it refuses to touch a production database.
 */
import pg from 'pg';
import { loadServerConfigOrExit } from '../config/config.js';

const DEMO_ITEMS: [string, string | null][] = [
  ['Coffee grinder', 'Burr grinder with 40 settings'],
  ['Kettle', 'Gooseneck, temperature control'],
  ['French press', null],
  ['Pour-over dripper', 'Ceramic, size 02'],
  ['Paper filters', 'Pack of 100'],
  ['Scale', 'Accurate to 0.1 g, with timer'],
  ['Mug', 'Stoneware, 350 ml'],
  ['Beans: Ethiopia Guji', 'Washed, light roast, 250 g'],
  ['Beans: Colombia Huila', 'Natural, medium roast, 250 g'],
  ['Milk frother', null],
];

// The same sources as the server (Secret files > environment > ConfigMap files), so inside a
// pod it seeds the database the API uses.
const config = loadServerConfigOrExit();
if (config.NODE_ENV === 'production') {
  process.stderr.write('refusing to seed with NODE_ENV=production: seeding deletes every item\n');
  process.exit(1);
}

const client = new pg.Client({ connectionString: config.DATABASE_URL });
await client.connect();
try {
  await client.query('BEGIN');
  await client.query('TRUNCATE items RESTART IDENTITY');
  for (const [name, description] of DEMO_ITEMS) {
    await client.query('INSERT INTO items (name, description) VALUES ($1, $2)', [name, description]);
  }
  await client.query('COMMIT');
  console.log(`seeded ${DEMO_ITEMS.length} items`);
} finally {
  await client.end();
}
