#!/usr/bin/env node
// A light stand-in for the Conversions API, for benchmarks: parses each batch, counts its
// events, answers per-event "processed", optionally with a fixed latency (from receiving a
// request to answering it). Loopback only. GET /stats answers the counters since the last
// /stats (a benchmark reads them after each run) and starts them again.
// --rate-limit R: at most R requests a second per ad account (the {id} of
// /v5/ad_accounts/{id}/events), a strict sliding window: a request is accepted only if fewer
// than R of that ad account's were accepted in the last 1,000 ms; otherwise it is answered 429
// at once (an edge limiter does not wait the latency), with Retry-After: 1 and Pinterest's body,
// and its body is neither kept nor parsed.
// Customer lists (the audience benchmark): GET/POST /v5/ad_accounts/{id}/customer_lists and
// GET/PATCH /v5/ad_accounts/{id}/customer_lists/{list_id}, answered with Pinterest's CustomerList
// shape. They want `Authorization: Bearer` the --oauth-token (default bench-oauth-token), else
// 401; each list keeps its members (the records it was sent) in a Set; --latency-ms applies;
// --rate-limit does not. /stats adds the list requests (writes and reads) and, per list, its
// members and a fingerprint of them (see membershipFingerprint).
// Usage: node scripts/fake-pinterest-server.mjs [--latency-ms L] [--rate-limit R] [--oauth-token T]; prints "listening PORT".
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || 0 : 0);
const latencyMs = option('--latency-ms');
const rateLimit = option('--rate-limit');
const oauthToken = args.includes('--oauth-token') ? args[args.indexOf('--oauth-token') + 1] : 'bench-oauth-token';
const WINDOW_MS = 1000;
let events = 0;
// Requests received (answered 200 or 429), and those answered 429.
let requests = 0;
let throttled = 0;
let cpuAtStats;
// With a latency: how much later than asked the answers left, in total (this one event loop,
// busy parsing other requests' bodies, fires their timers late).
let lateMs = 0;

// Per ad account: the times of the requests accepted in the last WINDOW_MS (a queue: at most
// R entries, so the check is O(1) amortized), and counts since the last /stats.
const accounts = new Map();
const accountOf = (url) => {
  const id = /\/ad_accounts\/([^/?]+)\/events/.exec(url)?.[1] ?? '';
  let account = accounts.get(id);
  if (!account) accounts.set(id, (account = { times: [], head: 0, accepted: 0, throttled: 0 }));
  return account;
};
/** Whether the window admits one more request of `account` now; if so, it is counted. */
const admit = (account, now) => {
  const { times } = account;
  while (account.head < times.length && times[account.head] <= now - WINDOW_MS) account.head++;
  if (account.head > 1024) {
    times.splice(0, account.head);
    account.head = 0;
  }
  if (times.length - account.head >= rateLimit) return false;
  times.push(now);
  return true;
};
const THROTTLED_BODY = JSON.stringify({ code: 8, message: 'Rate limit exceeded. Please retry after a while.' });

// The answer depends only on the batch size: built once per size.
const answers = new Map();
const answerFor = (count) => {
  if (!answers.has(count)) {
    answers.set(count, JSON.stringify({
      num_events_received: count,
      num_events_processed: count,
      events: Array.from({ length: count }, () => ({ status: 'processed', error_message: null, warning_message: null })),
    }));
  }
  return answers.get(count);
};

// Requests being received or waiting for their answer (429s included, for their short while),
// averaged over time: how well the client keeps its concurrency busy; and the most at once.
let inFlight = 0;
let maxInFlight = 0;
// Requests accepted and answered 429 in each second from the first request (all ad accounts):
// how a client's pace moved over a run.
let acceptedEach = [];
let throttledEach = [];
const countIn = (list, now) => {
  const second = Math.floor((now - firstAt) / 1000);
  while (list.length <= second) list.push(0);
  list[second]++;
};
let inFlightArea = 0;
let firstAt;
let lastChange;
const track = (delta) => {
  const now = performance.now();
  firstAt ??= now;
  if (lastChange !== undefined) inFlightArea += inFlight * (now - lastChange);
  lastChange = now;
  inFlight += delta;
  if (inFlight > maxInFlight) maxInFlight = inFlight;
};

// Customer lists, by ad account: id -> { id, name, type, members, uploaded, removed, batches }.
const listsOf = new Map();
let nextListId = 549755885175;
// List requests since the last /stats: POST and PATCH (ads_write), GET (ads_read).
let listWrites = 0;
let listReads = 0;
const LIST_PATH = /^\/v5\/ad_accounts\/([^/?]+)\/customer_lists(?:\/([^/?]+))?(?:\?.*)?$/;

const listJson = (list) => ({
  id: list.id, name: list.name, ad_account_id: list.adAccountId, type: 'customerlist', status: list.members.size >= 100 ? 'READY' : 'TOO_SMALL',
  num_uploaded_user_records: list.uploaded, num_removed_user_records: list.removed, num_batches: list.batches,
  created_time: list.createdTime, updated_time: list.updatedTime, exceptions: {},
});

/**
 * XOR of the members' first 64 bits (digest hex as a signed 64-bit number), as text: the same
 * as PostgreSQL's bit_xor(('x' || left(digest, 16))::bit(64)::bigint) over the query's digests,
 * so the benchmark checks which members the list holds, not only how many.
 */
const membershipFingerprint = (members) => {
  let xor = 0n;
  for (const digest of members) xor ^= BigInt.asIntN(64, BigInt(`0x${digest.slice(0, 16)}`));
  return String(xor);
};

/** Records as the API takes them: one comma-separated string of digests. */
const recordsOf = (text) => (typeof text === 'string' && text.length > 0 ? text.split(',') : []);

const answerList = (req, res, match) => {
  const [, adAccountId, listId] = match;
  const reply = (status, body) => {
    const wait = latencyMs - (performance.now() - req.receivedAt);
    const send = () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (wait > 0) setTimeout(send, wait);
    else send();
  };
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET') listReads++;
    else listWrites++;
    if (req.headers.authorization !== `Bearer ${oauthToken}`) return reply(401, { code: 2, message: 'Authentication failed.' });
    if (!listsOf.has(adAccountId)) listsOf.set(adAccountId, new Map());
    const lists = listsOf.get(adAccountId);
    const now = Math.floor(Date.now() / 1000);
    let body;
    try {
      body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    } catch {
      return reply(400, { code: 1, message: 'Invalid request body.' });
    }
    if (listId === undefined && req.method === 'GET') return reply(200, { items: [...lists.values()].map(listJson), bookmark: null });
    if (listId === undefined && req.method === 'POST') {
      const records = recordsOf(body.records);
      if (typeof body.name !== 'string' || !body.list_type || records.length === 0) return reply(400, { code: 1, message: 'name, records and list_type are required.' });
      const list = {
        id: String(nextListId++), name: body.name, adAccountId, listType: body.list_type, members: new Set(records),
        uploaded: records.length, removed: 0, batches: 1, createdTime: now, updatedTime: now,
      };
      lists.set(list.id, list);
      return reply(200, listJson(list));
    }
    const list = lists.get(listId);
    if (!list) return reply(404, { code: 2331, message: 'Customer list not found.' });
    if (req.method === 'GET') return reply(200, listJson(list));
    if (req.method === 'PATCH') {
      const records = recordsOf(body.records);
      if (!['ADD', 'REMOVE'].includes(body.operation_type) || records.length === 0) return reply(400, { code: 1, message: 'operation_type ADD or REMOVE and records are required.' });
      if (body.operation_type === 'ADD') {
        for (const r of records) list.members.add(r);
        list.uploaded += records.length;
      } else {
        for (const r of records) list.members.delete(r);
        list.removed += records.length;
      }
      list.batches++;
      list.updatedTime = now;
      return reply(200, listJson(list));
    }
    return reply(405, { code: 1, message: 'Method not allowed.' });
  });
};

const stats = (res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  const { user, system } = process.cpuUsage(cpuAtStats);
  const span = lastChange - firstAt;
  res.end(JSON.stringify({
    events, requests, accepted: requests - throttled, throttled, max_in_flight: maxInFlight,
    cpu_s: Number(((user + system) / 1e6).toFixed(2)), avg_in_flight: span > 0 ? Number((inFlightArea / span).toFixed(2)) : 0,
    avg_late_ms: requests - throttled > 0 ? Number((lateMs / (requests - throttled)).toFixed(2)) : 0, first_request_at: performance.timeOrigin + firstAt,
    rate_limit: rateLimit || null,
    accounts: Object.fromEntries([...accounts].map(([id, a]) => [id, { accepted: a.accepted, throttled: a.throttled }])),
    accepted_each_s: acceptedEach, throttled_each_s: throttledEach,
    list_writes: listWrites, list_reads: listReads,
    lists: Object.fromEntries([...listsOf].map(([account, lists]) => [account, [...lists.values()].map((l) => ({
      id: l.id, name: l.name, members: l.members.size, fingerprint: membershipFingerprint(l.members),
      num_uploaded_user_records: l.uploaded, num_removed_user_records: l.removed, num_batches: l.batches,
    }))])),
  }));
  listWrites = 0;
  listReads = 0;
  acceptedEach = [];
  throttledEach = [];
  cpuAtStats = process.cpuUsage();
  events = 0;
  requests = 0;
  throttled = 0;
  inFlightArea = 0;
  maxInFlight = inFlight;
  firstAt = undefined;
  lastChange = undefined;
  lateMs = 0;
  for (const account of accounts.values()) {
    account.accepted = 0;
    account.throttled = 0;
  }
};

const server = createServer((req, res) => {
  if (req.url === '/stats') {
    req.resume();
    req.on('end', () => stats(res));
    return;
  }
  const receivedAt = performance.now();
  const listMatch = LIST_PATH.exec(req.url);
  if (listMatch) {
    req.receivedAt = receivedAt;
    answerList(req, res, listMatch);
    return;
  }
  track(1);
  requests++;
  const account = accountOf(req.url);
  // The limiter decides when the request arrives, before its body.
  if (rateLimit > 0 && !admit(account, receivedAt)) {
    throttled++;
    account.throttled++;
    countIn(throttledEach, receivedAt);
    req.resume();
    req.on('end', () => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(THROTTLED_BODY);
      track(-1);
    });
    return;
  }
  account.accepted++;
  countIn(acceptedEach, receivedAt);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const { data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    events += data.length;
    const body = answerFor(data.length);
    const answer = () => {
      if (latencyMs > 0) lateMs += Math.max(0, performance.now() - receivedAt - latencyMs);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
      track(-1);
    };
    // The latency is the server's whole answer time, its own parsing included, as a client sees it.
    const wait = latencyMs - (performance.now() - receivedAt);
    if (wait > 0) setTimeout(answer, wait);
    else answer();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
