// PostgreSQL source: keyset pages in (cursor, primary key) order, so memory stays flat
// whatever the table size and every page is an indexed range scan. Identifiers are
// quoted, values are bound parameters.
import pg from 'pg';
import Cursor from 'pg-cursor';
import type { PostgresSourceConfig } from '../../config/schema.js';
import type { Row } from '../../mapping/compile.js';
import { firstLine, quoteIdentifier, quoteQualified } from '../sql.js';
import { SourceError, type Position, type ReadOptions, type Source } from '../types.js';

const TIMESTAMP_WITHOUT_TZ = 1114;

// `timestamp without time zone` is read as UTC, not as the machine's local time.
const parseUtcTimestamp = (text: string) => new Date(`${text.replace(' ', 'T')}Z`);




export class PostgresSource implements Source {
  private client?: pg.Client;
  private closed = false;
  private types?: Map<string, string>;
  private keyAt = 0;
  private cursorAt = -1;

  constructor(private readonly config: PostgresSourceConfig) {}

  private relation(): string {
    return this.config.table !== undefined
      ? quoteQualified(this.config.table)
      // The newline keeps a trailing -- comment from swallowing the closing parenthesis.
      : `(${this.config.query!.trim().replace(/;\s*$/, '')}\n)`;
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const { url, host, port, database, user, password, ssl } = this.config;
    const client = new pg.Client({
      ...(url ? { connectionString: url } : { host, port, database, user, password }),
      ...(ssl !== undefined ? { ssl: ssl === 'no-verify' ? { rejectUnauthorized: false } : ssl === 'require' ? true : ssl } : {}),
      application_name: 'pinsync',
      types: {
        getTypeParser: ((oid: number, format?: string) =>
          oid === TIMESTAMP_WITHOUT_TZ ? parseUtcTimestamp : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
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

  private async describe(): Promise<Map<string, string>> {
    if (this.types) return this.types;
    const client = await this.connect();
    try {
      const result = await client.query({ text: `SELECT * FROM ${this.relation()} AS pinsync_source LIMIT 0` });
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
    return [...(await this.describe()).keys()];
  }

  async *read(options: ReadOptions = {}): AsyncIterable<Row[]> {
    const types = await this.describe();
    const { cursor, primary_key: key } = this.config;
    const keyType = types.get(key);
    if (keyType === undefined) throw new SourceError(`primary key column '${key}' is not in the source`);
    const cursorType = cursor === undefined ? undefined : types.get(cursor);
    if (cursor !== undefined && cursorType === undefined) throw new SourceError(`cursor column '${cursor}' is not in the source`);

    const columns = options.columns ?? [...types.keys()];
    // Qualified, so the text copies of key and cursor added to the select list cannot shadow them.
    const qKey = `pinsync_source.${quoteIdentifier(key)}`;
    const qCursor = cursor === undefined ? undefined : `pinsync_source.${quoteIdentifier(cursor)}`;
    const select = [...columns.map((c) => `pinsync_source.${quoteIdentifier(c)}`), `(${qKey})::text AS pinsync_key`];
    this.keyAt = columns.length;
    this.cursorAt = -1;
    if (qCursor) {
      select.push(`(${qCursor})::text AS pinsync_cursor`);
      this.cursorAt = columns.length + 1;
    }
    const order = qCursor ? `${qCursor}, ${qKey}` : qKey;
    const pageSize = options.pageSize ?? 5000;

    // Strictly after a position, comparing in the columns' own types. Rows whose cursor or key
    // is null cannot be placed before or after a checkpoint and are not read (see unreadableRows).
    const filters: string[] = [];
    const values: string[] = [];
    const position = options.after;
    if (qCursor) {
      if (position?.cursor != null && position.key !== null) {
        filters.push(`(${qCursor}, ${qKey}) > ($1::${cursorType}, $2::${keyType})`);
        values.push(position.cursor, position.key);
      } else if (position?.cursor != null) {
        filters.push(`${qCursor} > $1::${cursorType}`);
        values.push(position.cursor);
      } else filters.push(`${qCursor} IS NOT NULL`);
    } else if (position?.key != null) {
      filters.push(`${qKey} > $1::${keyType}`);
      values.push(position.key);
    }
    filters.push(`${qKey} IS NOT NULL`);
    const text = `SELECT ${select.join(', ')} FROM ${this.relation()} AS pinsync_source`
      + `${filters.length > 0 ? ` WHERE ${filters.join(' AND ')}` : ''} ORDER BY ${order}`;

    // One query, sorted once, fetched page by page through a server-side cursor: memory
    // stays flat whatever the table size, and the rows come from one consistent snapshot.
    const client = await this.connect();
    const cursorQuery = client.query(new Cursor<Row>(text, values, { rowMode: 'array' }));
    try {
      for (;;) {
        let rows: Row[];
        try {
          rows = await cursorQuery.read(pageSize);
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

  /** Rows that cannot be placed against a checkpoint (null cursor or primary key): never read. */
  async unreadableRows(): Promise<number> {
    const nullable = [this.config.primary_key, this.config.cursor].filter((c): c is string => c !== undefined)
      .map((c) => `pinsync_source.${quoteIdentifier(c)} IS NULL`).join(' OR ');
    const client = await this.connect();
    const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.relation()} AS pinsync_source WHERE ${nullable}`);
    return Number(result.rows[0]?.n ?? 0);
  }

  positionOf(row: Row): Position {
    const cursor = this.cursorAt >= 0 ? row[this.cursorAt] : null;
    return { cursor: typeof cursor === 'string' ? cursor : null, key: String(row[this.keyAt]) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
