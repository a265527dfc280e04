#!/usr/bin/env node
// Writes syncs/data/orders.csv: deterministic, realistic and deliberately messy sample
// orders and leads for the example sync. All people are invented; emails use example
// domains, phones the fictional 555-01xx range, IPs the documentation ranges.
// Usage: node scripts/generate-sample-data.mjs [rows] [out]
import { createHash } from 'node:crypto';
import { writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

const rows = Number(process.argv[2] ?? 2000);
const out = process.argv[3] ?? 'syncs/data/orders.csv';

let seed = 20261120;
const rand = () => {
  // mulberry32
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(rand() * list.length)];
const chance = (p) => rand() < p;

const firstNames = ['Alice', 'Bob', 'Chloé', 'Dmitri', 'Emma', 'François', 'Grace', 'Hiro', 'Isabel', 'Jamal', 'Katarzyna', 'Liam', 'María', 'Noah', 'Olivia', 'Priya', 'Quinn', 'Rafael', 'Sofia', 'Tomás', 'Uma', 'Victor', 'Wei', 'Yara', 'Zoë'];
const lastNames = ['Smith', 'Johnson', 'García', 'Müller', 'Nguyen', 'O\'Brien', 'Kowalski', 'Rossi', 'Tanaka', 'Dubois', 'Patel', 'Silva', 'Van der Berg', 'Kim', 'Andersen'];
const places = [
  { city: 'San Francisco', state: ['California', 'CA', 'ca'], zip: ['94107', '94107-1234', '94103'], country: ['United States', 'USA', 'us', 'US'], phone: 'us' },
  { city: 'New York', state: ['New York', 'NY', 'ny '], zip: ['10001', '10001-0001'], country: ['United States', 'U.S.A.', 'US'], phone: 'us' },
  { city: 'St. Louis', state: ['Missouri', 'MO'], zip: ['63101', '63101 4321'], country: ['United States of America', 'US'], phone: 'us' },
  { city: 'Austin', state: ['Texas', 'TX'], zip: ['73301'], country: ['US', 'United States'], phone: 'us' },
  { city: 'Toronto', state: ['Ontario', 'ON'], zip: ['M5V 2T6'], country: ['Canada', 'CA'], phone: 'ca' },
  { city: 'London', state: [''], zip: ['SW1A 1AA', 'EC1A 1BB'], country: ['United Kingdom', 'UK', 'GB'], phone: 'gb' },
  { city: 'Berlin', state: [''], zip: ['10115'], country: ['Germany', 'Deutschland', 'DE'], phone: 'de' },
  { city: 'Paris', state: [''], zip: ['75001'], country: ['France', 'FR'], phone: 'fr' },
];
const userAgents = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15',
  'Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
];
const products = [
  { sku: 'SKU-TEE-001', name: 'Linen tee', price: '24.99', category: 'apparel' },
  { sku: 'SKU-MUG-014', name: 'Stoneware mug', price: '14.50', category: 'home' },
  { sku: 'SKU-LMP-203', name: 'Desk lamp', price: '89.00', category: 'home' },
  { sku: 'SKU-BAG-077', name: 'Canvas tote', price: '19.99', category: 'accessories' },
  { sku: 'SKU-PLT-310', name: 'Potted fern', price: '32.25', category: 'garden' },
];
const kinds = ['purchase', 'purchase', 'purchase', 'purchase', 'lead', 'add_to_cart', 'signup'];

const digits = (n) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join('');
function phoneFor(region) {
  const line = `01${digits(2)}`;
  const area = pick(['415', '212', '314', '512']);
  switch (region) {
    case 'us': return pick([`(${area}) 555-${line}`, `${area}.555.${line}`, `+1 ${area} 555 ${line}`, `1-${area}-555-${line}`, `${area}555${line}`]);
    case 'ca': return pick([`(416) 555-${line}`, `+1 416 555 ${line}`]);
    case 'gb': return pick([`020 7946 0${digits(3)}`, `+44 20 7946 0${digits(3)}`, `0044 20 7946 0${digits(3)}`]);
    case 'de': return pick([`+49 30 ${digits(7)}`, `030 ${digits(7)}`]);
    default: return pick([`+33 1 ${digits(2)} ${digits(2)} ${digits(2)} ${digits(2)}`, `01 ${digits(2)} ${digits(2)} ${digits(2)} ${digits(2)}`]);
  }
}
function messyEmail(first, last, i) {
  const base = `${first}.${last}${i % 97}`.normalize('NFD').replace(/\p{M}/gu, '').replace(/[^A-Za-z0-9.]/g, '').toLowerCase();
  const domain = pick(['example.com', 'example.org', 'example.net']);
  const email = `${base}@${domain}`;
  if (chance(0.05)) return createHash('sha256').update(email).digest('hex'); // already hashed upstream
  return pick([email, email.toUpperCase(), ` ${email} `, `${first}.${last}${i % 97}@${domain.toUpperCase()}`.normalize('NFD').replace(/\p{M}/gu, '').replace(/[' ]/g, '')]);
}
function dob() {
  const y = 1950 + Math.floor(rand() * 55); const m = 1 + Math.floor(rand() * 12); const d = 1 + Math.floor(rand() * 28);
  const p = (n) => String(n).padStart(2, '0');
  return pick([`${y}-${p(m)}-${p(d)}`, `${p(m)}/${p(d)}/${y}`, `${p(d)}.${p(m)}.${y}`, `${y}${p(m)}${p(d)}`, '']);
}
const csv = (v) => {
  const text = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

// Events fall in the five days before 2026-11-20; the example query moves them to the days before today.
const end = Date.UTC(2026, 10, 19, 23, 59, 0);
const start = end - 5 * 86400_000;
const header = ['order_id', 'updated_at', 'completed_at', 'kind', 'email', 'phone', 'first_name', 'last_name', 'gender', 'date_of_birth', 'city', 'state', 'zip', 'country', 'ip_address', 'user_agent', 'device_id', 'order_total', 'currency', 'item_count', 'items', 'page_url', 'click_id'];
const lines = [header.join(',')];
const fmt = (ms) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
for (let i = 1; i <= rows; i++) {
  const completed = start + Math.floor(((i - 1) / rows) * (end - start)) + Math.floor(rand() * 60_000);
  const updated = completed + Math.floor(rand() * 3_600_000);
  const place = pick(places);
  const first = pick(firstNames); const last = pick(lastNames);
  const kind = pick(kinds);
  const cart = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({ ...pick(products), qty: 1 + Math.floor(rand() * 3) }));
  const total = cart.reduce((s, it) => s + Math.round(Number(it.price) * 100) * it.qty, 0) / 100;
  const isOrder = kind === 'purchase' || kind === 'add_to_cart';
  let email = chance(0.96) ? messyEmail(first, last, i) : '';
  let phone = chance(0.7) ? phoneFor(place.phone) : '';
  let ip = chance(0.8) ? (chance(0.8) ? `${pick(['192.0.2', '198.51.100', '203.0.113'])}.${1 + Math.floor(rand() * 254)}` : `2001:db8::${Math.floor(rand() * 65535).toString(16)}`) : '';
  let ua = ip ? pick(userAgents) : '';
  const device = chance(0.15) ? `${digits(8)}-${digits(4)}-4${digits(3)}-a${digits(3)}-${digits(12)}`.toUpperCase() : '';
  let orderTotal = isOrder ? total.toFixed(2) : '';
  let completedText = fmt(completed);
  // A few rows a real warehouse would have that cannot be sent.
  const flaw = i % 80;
  if (flaw === 7) { email = ''; ip = ''; ua = ''; }                   // no usable identifier
  if (flaw === 19 && isOrder) orderTotal = 'n/a';                      // not a number
  if (flaw === 31) completedText = fmt(start - 30 * 86400_000);        // far too old for the Conversions API
  if (flaw === 43) phone = 'ask at desk';                               // unusable phone: left out, event still sent
  lines.push([
    `ord_${String(i).padStart(6, '0')}`, fmt(updated), completedText, kind, email, phone, first, last,
    pick(['female', 'Male', 'F', 'm', 'non-binary', '', 'Woman']), dob(), place.city, pick(place.state),
    pick(place.zip), pick(place.country), ip, ua, device, orderTotal, isOrder ? pick(['USD', 'USD', 'EUR', 'GBP']) : '',
    isOrder ? cart.reduce((s, it) => s + it.qty, 0) : '',
    isOrder ? JSON.stringify(cart.map((it) => ({ sku: it.sku, price: it.price, qty: it.qty, name: it.name, category: it.category }))) : '',
    `https://shop.example.com/${isOrder ? 'checkout' : kind}`, chance(0.3) ? `dj0yJnU9${digits(10)}` : '',
  ].map(csv).join(','));
}
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${lines.join('\n')}\n`);
console.log(`wrote ${rows} rows to ${out}`);
