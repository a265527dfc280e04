// An audience run: read the whole query -> plan (who to add, who to remove) -> guard against
// mass removals -> find or create the list -> send ADDs, then REMOVEs, one request at a time,
// each marked in the state before it is sent and settled in it after.
import type { SyncDefinition } from '../config/schema.js';
import { AUDIENCE_RECORDS_PER_REQUEST, DEFAULT_MAX_REMOVAL_RATE } from '../config/schema.js';
import { PinterestRefusedError, RemovalGuardError, UsageError } from '../core/errors.js';
import type { UserKey } from '../core/event-schema.js';
import type { MemberReader } from '../mapping/members.js';
import { MaybeCreatedError, type CustomerList, type CustomerListApi, type ListRequestsReport, type ListType } from '../pinterest/customer-lists.js';
import type { Source } from '../sources/types.js';
import type { AudienceListRecord, RejectRecord, StateStore } from '../state/store.js';
import { ReasonCounts } from './reasons.js';

/** What a run would change, from the query and the membership the state records. */
export interface AudiencePlan {
  rowsRead: number;
  skipped: number;
  rejects: RejectRecord[];
  rejectsByReason: ReasonCounts;
  dropped: ReadonlyMap<UserKey, number>;
  /** Distinct identifiers the query returned. */
  members: number;
  /** Sorted digests to add: new members, and those an interrupted run left unsettled. */
  toAdd: string[];
  /** Sorted digests to remove: members gone from the query. */
  toRemove: string[];
  /** Members already on the list: no request. */
  kept: number;
  /** Digests the state holds: the list's size as pinsync knows it. */
  known: number;
  /** Of toAdd and toRemove, those an interrupted run had sent without settling: resent. */
  unsettled: number;
  /** Of toRemove, those an earlier run already decided to remove, past the removal guard. */
  approved: number;
  /** False when the read was stopped (a signal): such a plan must not be applied. */
  complete: boolean;
}

export interface AudienceReport {
  listId: string | null;
  listName: string;
  listType: ListType;
  /** The list was created by this run (or found by its name, `adopted`). */
  created: boolean;
  adopted: boolean;
  audienceId: string | null;
  members: number;
  added: number;
  removed: number;
  kept: number;
  /** The list's size as pinsync knows it after the run. */
  size: number;
  /** Pinterest's status of the list in its last answer to the run (PROCESSING, READY, TOO_SMALL, UPLOADING). */
  status: string | null;
  requests: ListRequestsReport;
}

export interface AudienceProgress {
  rowsRead: number;
  sent: number;
  settled: number;
  rejected: number;
}

/** The share of the list a run may remove, and whether it may empty it. */
export function removalRefusal(sync: SyncDefinition, plan: Pick<AudiencePlan, 'toRemove' | 'known' | 'members' | 'approved'>): string | undefined {
  // Removals an earlier run decided on (and was interrupted in) passed the guard then: they are not weighed again.
  const removing = plan.toRemove.length - plan.approved;
  if (removing <= 0) return undefined;
  const known = plan.known - plan.approved;
  const rate = sync.options.max_removal_rate ?? DEFAULT_MAX_REMOVAL_RATE;
  const share = known > 0 ? removing / known : 1;
  const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)} %`;
  if (plan.members === 0) {
    return `the query returned no members, so this run would remove all ${removing} from the list: a query that suddenly returns nothing is more often a mistake than a fact. Nothing was sent. If the list really is to be emptied, run again with --allow-removals`;
  }
  if (share > rate) {
    const earlier = plan.approved > 0 ? ` (besides ${plan.approved} an earlier run decided to remove, which it also removes)` : '';
    return `this run would remove ${removing} of the list's ${known} members (${pct(share)})${earlier}, more than options.max_removal_rate (${pct(rate)}) allows. Nothing was sent. Check the query (\`pinsync preview\` shows what would change); if the removals are right, run again with --allow-removals, or raise options.max_removal_rate`;
  }
  return undefined;
}

/** Reads the whole query and compares it with the membership the state records. */
export async function planAudience(
  sync: SyncDefinition, source: Source, reader: MemberReader, state: StateStore | undefined,
  onRows?: (rowsRead: number) => void, stopped?: () => boolean,
): Promise<AudiencePlan> {
  const wanted = new Set<string>();
  const rejects: RejectRecord[] = [];
  const rejectsByReason = new ReasonCounts();
  let rowsRead = 0;
  let skipped = 0;
  for await (const page of source.read({ columns: reader.columns, pageSize: 10_000, withNullKeys: true })) {
    for (const row of page) {
      rowsRead++;
      const outcome = reader.read(row);
      if (outcome.skipped) skipped++;
      else if (outcome.reason !== undefined) {
        rejects.push({ primaryKey: reader.keyOf(row), eventId: null, stage: 'local', reason: outcome.reason });
        rejectsByReason.count(outcome.reason);
      } else for (const digest of outcome.digests) wanted.add(digest);
    }
    onRows?.(rowsRead);
    if (stopped?.()) return { ...emptyPlan(reader), rowsRead, skipped, rejects, rejectsByReason, complete: false };
  }
  const members = wanted.size;
  // What is left in `wanted` after the state's members are taken out is to be added.
  const toRemove: string[] = [];
  let kept = 0;
  let known = 0;
  let unsettled = 0;
  let approved = 0;
  if (state) {
    for await (const page of state.members(sync.name)) {
      for (const [digest, standing] of page) {
        known++;
        if (standing === 'adding' || standing === 'removing') unsettled++;
        if (!wanted.has(digest)) {
          toRemove.push(digest);
          if (standing === 'leaving' || standing === 'removing') approved++;
        }
        else if (standing === 'member') {
          wanted.delete(digest);
          kept++;
        }
      }
    }
  }
  // Without a recorded list, what the state holds are marks of a create that was never recorded:
  // leftovers to clear, not members a mistaken query would take away.
  if (state && toRemove.length > 0 && !(await state.audienceList(sync.name))) approved = toRemove.length;
  return {
    rowsRead, skipped, rejects, rejectsByReason, dropped: reader.dropped, members, toAdd: [...wanted].sort(), toRemove: toRemove.sort(), kept, known, unsettled,
    approved, complete: true,
  };
}

function emptyPlan(reader: MemberReader): AudiencePlan {
  return {
    rowsRead: 0, skipped: 0, rejects: [], rejectsByReason: new ReasonCounts(), dropped: reader.dropped, members: 0, toAdd: [], toRemove: [], kept: 0, known: 0,
    unsettled: 0, approved: 0, complete: false,
  };
}

export interface ApplyOptions {
  sync: SyncDefinition;
  plan: AudiencePlan;
  listType: ListType;
  client: CustomerListApi;
  store: StateStore;
  runId: number;
  allowRemovals?: boolean;
  /** Stops between requests: an Error as the reason fails the run (a lost lock), anything else interrupts it. */
  signal?: AbortSignal;
  onProgress?: (progress: AudienceProgress) => void;
  warn?: (message: string) => void;
}

export interface Applied {
  report: AudienceReport;
  /** Records sent in requests (resends included), and records Pinterest took. */
  sent: number;
  settled: number;
  resent: number;
  interrupted: boolean;
}

/** The run's counts as the state's runs table keeps them. */
function runColumns(plan: AudiencePlan, applied: { sent: number; settled: number; resent: number; added: number; removed: number }): Record<string, number> {
  return {
    rows_read: plan.rowsRead, skipped: plan.skipped, rejected_local: plan.rejects.length, events_sent: applied.sent, processed: applied.settled,
    resent: applied.resent, members_added: applied.added, members_removed: applied.removed,
  };
}

/** Records per request: the sync file's, or the default. */
const recordsPerRequest = (sync: SyncDefinition) => sync.destination.records_per_request ?? AUDIENCE_RECORDS_PER_REQUEST;

/**
 * The guard, the list, then the changes. Each request's digests are marked in the state
 * before it is sent and settled after it, so a run killed at any moment leaves at most the
 * request in flight to send again (ADD and REMOVE are idempotent on Pinterest's side).
 */
export async function applyAudience(options: ApplyOptions): Promise<Applied> {
  const { sync, plan, client, store, runId, signal } = options;
  const refusal = options.allowRemovals ? undefined : removalRefusal(sync, plan);
  if (refusal) throw new RemovalGuardError(refusal);
  const unsettledBefore = new Set<string>();
  if (plan.unsettled > 0) {
    for await (const page of store.members(sync.name)) for (const [digest, standing] of page) if (standing === 'adding' || standing === 'removing') unsettledBefore.add(digest);
  }
  const tally = { sent: 0, settled: 0, resent: 0, added: 0, removed: 0 };
  const progress = () => options.onProgress?.({ rowsRead: plan.rowsRead, sent: tally.sent, settled: tally.settled, rejected: plan.rejects.length });
  const counts = () => ({ runId, values: runColumns(plan, tally) });
  // The rejects go first, with the run's counts: a run that fails later still shows them.
  await store.recordRejects(sync.name, runId, plan.rejects, counts());
  const chunk = recordsPerRequest(sync);
  let interrupted = false;
  const stopped = (): boolean => {
    if (!signal?.aborted) return false;
    if (signal.reason instanceof Error) throw signal.reason;
    interrupted = true;
    return true;
  };
  // A stop that came after the read's last look sends nothing, not even the create.
  const resolved = stopped() ? undefined : await resolveList(options, plan.toAdd.slice(0, chunk));
  if (!resolved) {
    const known = await store.audienceList(sync.name);
    if (!interrupted) {
      // No list exists, and the query has nobody to create one with: marks of an earlier failed create are no one's.
      await store.clearMembers(sync.name);
      options.warn?.('the query returned no members, so there is no customer list to create yet: the first run whose query returns some creates it');
    }
    const report: AudienceReport = {
      listId: known?.listId ?? null, listName: known?.listName ?? listName(sync), listType: options.listType, created: false, adopted: false,
      audienceId: known?.audienceId ?? null, status: null, members: plan.members, added: 0, removed: 0, kept: plan.kept, size: plan.known, requests: client.report(),
    };
    return { report, sent: 0, settled: 0, resent: 0, interrupted };
  }
  let latest = resolved.list;
  const send = async (operation: 'ADD' | 'REMOVE', digests: string[], first: number) => {
    for (let i = first; i < digests.length; i += chunk) {
      if (stopped()) return;
      const records = digests.slice(i, i + chunk);
      const resends = records.reduce((n, d) => n + (unsettledBefore.has(d) ? 1 : 0), 0);
      await store.markMembers(sync.name, operation === 'ADD' ? 'adding' : 'removing', records);
      tally.sent += records.length;
      tally.resent += resends;
      // Pinterest's answer carries the list's status after this change: the report shows the latest.
      latest = await client.updateList(resolved.list.id, operation, records, signal);
      tally.settled += records.length;
      if (operation === 'ADD') tally.added += records.length;
      else tally.removed += records.length;
      await store.settleMembers(sync.name, operation === 'ADD' ? 'added' : 'removed', records, counts());
      progress();
    }
  };
  if (resolved.createdWith > 0) {
    const records = plan.toAdd.slice(0, resolved.createdWith);
    tally.sent += records.length;
    tally.settled += records.length;
    tally.added += records.length;
    await store.settleMembers(sync.name, 'added', records, counts());
    progress();
  }
  const toRemove = resolved.fresh ? [] : plan.toRemove;
  // Decided now, past the guard: an interrupted run's successor carries on without weighing them again.
  if (toRemove.length > 0) await store.markMembers(sync.name, 'leaving', toRemove);
  if (!stopped()) await ensureAudience(options, resolved);
  await send('ADD', plan.toAdd, resolved.createdWith);
  if (!interrupted) await send('REMOVE', toRemove, 0);
  const after = await store.memberCounts(sync.name);
  const report: AudienceReport = {
    listId: resolved.list.id, listName: resolved.list.name, listType: options.listType, created: resolved.created, adopted: resolved.adopted,
    audienceId: resolved.record.audienceId, status: latest.status ?? null, members: plan.members, added: tally.added, removed: tally.removed, kept: plan.kept,
    size: after.member + after.adding + after.removing + after.leaving, requests: client.report(),
  };
  return { report, sent: tally.sent, settled: tally.settled, resent: tally.resent, interrupted };
}

interface ResolvedList {
  list: CustomerList;
  record: AudienceListRecord;
  created: boolean;
  adopted: boolean;
  /** Members the create request carried (already on the list). */
  createdWith: number;
  /** A new list: nothing the state held is on it, so nothing is to be removed. */
  fresh?: boolean;
}

/** The list's name as the file gives it, or its id. */
export const listName = (sync: SyncDefinition): string => {
  const target = sync.destination.customer_list!;
  return 'id' in target ? `list ${target.id}` : target.name;
};

const describeList = (sync: SyncDefinition) => {
  const target = sync.destination.customer_list!;
  return 'id' in target ? `customer list ${target.id}` : `customer list '${target.name}'`;
};

/**
 * The sync's list: the one the state records (it must still be the one the file names), the
 * one the file names by id, the ad account's list of that name, or a new one.
 */
async function resolveList(options: ApplyOptions, firstRecords: string[]): Promise<ResolvedList | undefined> {
  const { sync, client, store, signal, listType } = options;
  const target = sync.destination.customer_list!;
  const adAccountId = String(sync.destination.ad_account_id);
  const known = await store.audienceList(sync.name);
  const reset = `\`pinsync reset ${sync.name}\` forgets it (and the membership pinsync recorded), so the next run starts over with the list the file names`;
  if (known) {
    const same = known.adAccountId === adAccountId && known.listType === listType && ('id' in target ? String(target.id) === known.listId : target.name === known.listName);
    if (!same) {
      throw new UsageError(`this sync's state is for customer list ${known.listId} ('${known.listName}', ${known.listType}, ad account ${known.adAccountId}), but ${sync.file} now names ${describeList(sync)} (${listType}, ad account ${adAccountId}): ${reset}`);
    }
    const list = await client.getList(known.listId, signal);
    if (!list) throw new PinterestRefusedError(`customer list ${known.listId} ('${known.listName}') is gone from ad account ${adAccountId} (deleted in Ads Manager?): ${reset}`);
    return { list, record: known, created: false, adopted: false, createdWith: 0 };
  }
  const save = async (list: CustomerList): Promise<AudienceListRecord> => {
    // Two syncs on one list would each remove the other's members.
    const keeper = await store.listKeeper(adAccountId, list.id);
    if (keeper !== undefined && keeper !== sync.name) {
      throw new UsageError(`customer list ${list.id} ('${list.name}') is kept by sync '${keeper}' in this state already: two syncs on one list would remove each other's members. Give ${sync.name} a list of its own in ${sync.file} (or combine the two queries in one sync); if '${keeper}' is this sync's old name, \`pinsync reset ${keeper}\` lets the list go`);
    }
    const record = { listId: list.id, listName: list.name, listType, adAccountId, audienceId: null };
    await store.saveAudienceList(sync.name, record);
    return record;
  };
  if ('id' in target) {
    const list = await client.getList(String(target.id), signal);
    if (!list) throw new PinterestRefusedError(`ad account ${adAccountId} has no customer list ${target.id}: check destination.customer_list.id in ${sync.file}, or give { name: … } to create one`);
    return { list, record: await save(list), created: false, adopted: false, createdWith: 0 };
  }
  const found = await client.findLists(target.name, signal);
  if (found.length > 1) {
    throw new UsageError(`ad account ${adAccountId} has ${found.length} customer lists named '${target.name}' (ids ${found.map((l) => l.id).join(', ')}): give the one to keep as destination.customer_list: { id: "…" } in ${sync.file}`);
  }
  if (found.length === 1) {
    // A list of that name from before pinsync (or from a run that crashed before recording it): its members pinsync did not send stay until removed in Ads Manager.
    options.warn?.(`found the ad account's customer list '${target.name}' (id ${found[0]!.id}) by its name, and keeps it from now on: a list an earlier run created and stopped before recording, or one made before; members pinsync did not send are never removed by pinsync`);
    return { list: found[0]!, record: await save(found[0]!), created: false, adopted: true, createdWith: 0 };
  }
  // Pinterest creates a list with its first records: with none, there is nothing to create yet.
  if (firstRecords.length === 0) return undefined;
  // Marked first: a crash after Pinterest created the list finds it by name, and adds these again.
  // No list holds what the state has (marks of a create that never happened): forget them.
  await store.clearMembers(sync.name);
  await store.markMembers(sync.name, 'adding', firstRecords);
  const created = await createOnce(
    () => client.createList({ name: target.name, listType, records: firstRecords }, signal),
    async () => client.findLists(target.name, signal),
  ).catch(async (error: unknown) => {
    // Pinterest made no list: these marks would read as members to remove.
    if (!(error instanceof MaybeCreatedError)) await store.settleMembers(sync.name, 'removed', firstRecords);
    throw error;
  });
  // A list found after a lost answer may or may not hold its first records: they are sent again as an ADD.
  return { list: created.made, record: await save(created.made), created: true, adopted: false, createdWith: created.found ? 0 : firstRecords.length, fresh: true };
}

/** Tries to create again only after a lookup shows the lost answer created nothing (a second POST would make two). */
async function createOnce<T>(create: () => Promise<T>, lookup: () => Promise<T[]>, attempts = 3): Promise<{ made: T; found: boolean }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { made: await create(), found: false };
    } catch (error) {
      if (!(error instanceof MaybeCreatedError)) throw error;
      const made = await lookup();
      if (made.length === 1) return { made: made[0]!, found: true };
      if (made.length > 1 || attempt >= attempts) throw error;
    }
  }
}

/** The targetable CUSTOMER_LIST audience the file asks for: found on the list, or created. */
async function ensureAudience(options: ApplyOptions, resolved: ResolvedList): Promise<void> {
  const wanted = options.sync.destination.audience;
  if (!wanted || resolved.record.audienceId !== null) return;
  const existing = await options.client.findAudiences(resolved.list.id, options.signal);
  let audience = existing.find((a) => a.name === wanted.name) ?? existing[0];
  audience ??= (await createOnce(
    () => options.client.createAudience({ name: wanted.name, listId: resolved.list.id }, options.signal),
    () => options.client.findAudiences(resolved.list.id, options.signal),
  )).made;
  resolved.record = { ...resolved.record, audienceId: audience.id };
  await options.store.saveAudienceList(options.sync.name, resolved.record);
}
