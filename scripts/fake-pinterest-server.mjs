#!/usr/bin/env node
// A light stand-in for the Conversions API, for benchmarks: parses each batch, counts its
// events, answers per-event "processed", optionally after a fixed latency. Loopback only.
// Usage: node scripts/fake-pinterest-server.mjs [--latency-ms L]; prints "listening PORT".
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const latencyMs = Number(args[args.indexOf('--latency-ms') + 1] ?? 0) || 0;
let events = 0;
let requests = 0;

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

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const { user, system } = process.cpuUsage();
      res.end(JSON.stringify({ events, requests, cpu_s: Number(((user + system) / 1e6).toFixed(2)) }));
      return;
    }
    const { data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    requests++;
    events += data.length;
    const body = answerFor(data.length);
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (latencyMs > 0) setTimeout(answer, latencyMs);
    else answer();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(`listening ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
