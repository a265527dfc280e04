// PostgreSQL source: keyset pages in (cursor, primary key) order, so memory stays flat
// whatever the table size and every page is an indexed range scan. Identifiers are
// quoted, values are bound parameters.
import type { Client } from 'pg';
import { pg, Cursor } from './driver.js';
import type { PostgresSourceConfig } from '../../config/schema.js';
import type { Row } from '../../mapping/compile.js';
import { ALIAS, firstLine, planKeyCheck, planRead, planUnreadable, quoteQualified, RowLayout } from '../sql.js';
import { SourceError, type ColumnTypes, type KeyCheck, type Position, type ReadOptions, type Source, type Unreadable } from '../types.js';
import { parseTimestamp, parseTimestamptz } from './timestamps.js';

// Timestamps are the one type a run parses on every row; these skip pg's regular expression.
const FAST_PARSERS = new Map<number, (text: string) => Date>([
  [pg.types.builtins.TIMESTAMPTZ, parseTimestamptz],
  [pg.types.builtins.TIMESTAMP, parseTimestamp],
]);

export class PostgresSource implements Source {
  private client?: Client;
  private closed = false;
  private types?: Map<string, string>;
  private layout = new RowLayout();

  constructor(private readonly config: PostgresSourceConfig, known?: ColumnTypes) {
    if (known) this.types = new Map(known);
  }

  private relation(): string {
    return this.config.table !== undefined
      ? quoteQualified(this.config.table)
      // The newline keeps a trailing -- comment from swallowing the closing parenthesis.
      : `(${this.config.query!.trim().replace(/;\s*$/, '')}\n)`;
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    const { url, host, port, database, user, password, ssl } = this.config;
    const client = new pg.Client({
      ...(url ? { connectionString: url } : { host, port, database, user, password }),
      ...(ssl !== undefined ? { ssl: ssl === 'no-verify' ? { rejectUnauthorized: false } : ssl === 'require' ? true : ssl } : {}),
      application_name: 'pinsync',
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          (format !== 'binary' && FAST_PARSERS.get(oid)) || pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    try {
      await client.connect();
      // Cursor text in UTC and ISO order, so a checkpoint means the same thing from any session.
      await client.query("SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'");
    } catch (error) {
      await client.end().catch(() => undefined);
      throw new SourceError(`cannot connect to PostgreSQL: ${firstLine(error)}`);
    }
    this.client = client;
    return client;
  }

  async columnTypes(): Promise<Map<string, string>> {
    if (this.types) return this.types;
    const client = await this.connect();
    try {
      const result = await client.query({ text: `SELECT * FROM ${this.relation()} AS ${ALIAS} LIMIT 0` });
      // Full type names with modifiers (character(12), not character), to cast checkpoint values exactly.
      const names = await client.query<{ name: string }>(
        'SELECT format_type(t.oid, t.mod) AS name FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS t(oid, mod, i) ORDER BY t.i',
        [result.fields.map((f) => f.dataTypeID), result.fields.map((f) => f.dataTypeModifier)],
      );
      this.types = new Map(result.fields.map((f, i) => [f.name, names.rows[i]?.name ?? 'text']));
    } catch (error) {
      throw new SourceError(`PostgreSQL cannot read the source ${this.config.table ? `table ${this.config.table}` : 'query'}: ${firstLine(error)}`);
    }
    return this.types;
  }

  async columns(): Promise<string[]> {
    return [...(await this.columnTypes()).keys()];
  }

  async *read(options: ReadOptions = {}): AsyncIterable<Row[]> {
    const types = await this.columnTypes();
    const plan = planRead(this.config, types, options.columns ?? [...types.keys()], options.after, undefined, options.until);
    this.layout = plan.layout;
    const text = `SELECT ${plan.select} FROM ${this.relation()} AS ${ALIAS} WHERE ${plan.where} ORDER BY ${plan.orderBy}`;
    // One query, sorted once, fetched page by page through a server-side cursor: memory
    // stays flat whatever the table size, and the rows come from one consistent snapshot.
    const client = await this.connect();
    const cursorQuery = client.query(new Cursor<Row>(text, plan.values, { rowMode: 'array' }));
    try {
      for (;;) {
        let rows: Row[];
        try {
          rows = await cursorQuery.read(options.pageSize ?? 5000);
        } catch (error) {
          throw new SourceError(`PostgreSQL query failed: ${firstLine(error)}`);
        }
        if (rows.length === 0) return;
        yield rows;
      }
    } finally {
      await cursorQuery.close().catch(() => undefined);
    }
  }

  async unreadableRows(until?: string): Promise<Unreadable> {
    const types = await this.columnTypes();
    const client = await this.connect();
    const { sql, values } = planUnreadable(this.config, types, this.relation(), until);
    try {
      const result = await client.query<{ missing: string; future: string }>(sql, values);
      return { missing: Number(result.rows[0]?.missing ?? 0), future: Number(result.rows[0]?.future ?? 0) };
    } catch (error) {
      throw new SourceError(`PostgreSQL query failed: ${firstLine(error)}`);
    }
  }

  async checkKey(limit: number): Promise<KeyCheck> {
    const client = await this.connect();
    try {
      const result = await client.query<{ checked: string; distinct_keys: string; most: string }>(planKeyCheck(this.config, this.relation(), limit));
      const row = result.rows[0];
      return { checked: Number(row?.checked ?? 0), distinctKeys: Number(row?.distinct_keys ?? 0), most: Number(row?.most ?? 0) };
    } catch (error) {
      throw new SourceError(`PostgreSQL query failed: ${firstLine(error)}`);
    }
  }

  positionOf(row: Row): Position {
    return this.layout.positionOf(row);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
