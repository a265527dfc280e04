#!/usr/bin/env node
// A light stand-in for the Conversions API, for benchmarks: parses each batch, counts its
// events, answers per-event "processed", optionally after a fixed latency. Loopback only.
// Usage: node scripts/fake-pinterest-server.mjs [--latency-ms L]; prints "listening PORT".
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const latencyMs = Number(args[args.indexOf('--latency-ms') + 1] ?? 0) || 0;
let events = 0;
let requests = 0;

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (req.url === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ events, requests }));
      return;
    }
    const { data } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    requests++;
    events += data.length;
    const body = JSON.stringify({
      num_events_received: data.length,
      num_events_processed: data.length,
      events: data.map(() => ({ status: 'processed', error_message: null, warning_message: null })),
    });
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
