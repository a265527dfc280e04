#!/usr/bin/env node
// A light stand-in for the Conversions API, for benchmarks: parses each batch, counts its
// events, answers per-event "processed", optionally with a fixed latency (from receiving a
// request to answering it). Loopback only. GET /stats answers the counters since the last
// /stats (a benchmark reads them after each run) and starts them again.
// Usage: node scripts/fake-pinterest-server.mjs [--latency-ms L]; prints "listening PORT".
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const latencyMs = Number(args[args.indexOf('--latency-ms') + 1] ?? 0) || 0;
let events = 0;
let requests = 0;
let cpuAtStats;
// With a latency: how much later than asked the answers left, in total (this one event loop,
// busy parsing other requests' bodies, fires their timers late).
let lateMs = 0;

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

// Requests being received or waiting for their answer, averaged over time: how well the
// client keeps its concurrency busy.
let inFlight = 0;
let inFlightArea = 0;
let firstAt;
let lastChange;
const track = (delta) => {
  const now = performance.now();
  firstAt ??= now;
  if (lastChange !== undefined) inFlightArea += inFlight * (now - lastChange);
  lastChange = now;
  inFlight += delta;
};

const server = createServer((req, res) => {
  const chunks = [];
  const receivedAt = performance.now();
  const counted = req.url !== '/stats';
  if (counted) track(1);
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const { user, system } = process.cpuUsage(cpuAtStats);
      const span = lastChange - firstAt;
      res.end(JSON.stringify({
        events, requests, cpu_s: Number(((user + system) / 1e6).toFixed(2)), avg_in_flight: span > 0 ? Number((inFlightArea / span).toFixed(2)) : 0,
        avg_late_ms: requests > 0 ? Number((lateMs / requests).toFixed(2)) : 0, first_request_at: performance.timeOrigin + firstAt,
      }));
      cpuAtStats = process.cpuUsage();
      events = 0;
      requests = 0;
      inFlightArea = 0;
      firstAt = undefined;
      lastChange = undefined;
      lateMs = 0;
      return;
    }
    const { data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    requests++;
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
