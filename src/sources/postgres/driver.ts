// pg and pg-cursor, CommonJS packages, loaded once for the PostgreSQL source's modules.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const pg = require('pg') as typeof import('pg').default;
export const Cursor = require('pg-cursor') as typeof import('pg-cursor');
