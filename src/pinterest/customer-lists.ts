// Pinterest's customer-list and audience endpoints (ads_write / ads_read): what an audience
// sync needs to create a list, add and remove its members, read it back, and make it targetable.
import type { AudienceMatchKey } from '../config/schema.js';
import { AUDIENCE_LIST_TYPES } from '../config/schema.js';

export type ListType = (typeof AUDIENCE_LIST_TYPES)[AudienceMatchKey];
export type ListOperation = 'ADD' | 'REMOVE';

/** A customer list as Pinterest describes it (CustomerList in the OpenAPI description). */
export interface CustomerList {
  id: string;
  name: string;
  /** PROCESSING, READY, TOO_SMALL or UPLOADING (kept as text: Pinterest may add more). */
  status?: string;
  numUploadedUserRecords?: number;
  numRemovedUserRecords?: number;
  numBatches?: number;
  /** Unix seconds. */
  createdTime?: number;
  updatedTime?: number;
}

/** A CUSTOMER_LIST audience. */
export interface Audience {
  id: string;
  name: string;
  status?: string;
  /** Pinterest's estimate of the matched users, when it gives one. */
  size?: number;
  customerListId?: string;
}

/** What the client sent, for the run's report. */
export interface ListRequestsReport {
  requests: number;
  /** Answered 429. */
  throttled: number;
}

/**
 * Every call retries 429 (honouring Retry-After), 408, 5xx, malformed answers and network
 * errors within destination.max_retry_time, then throws RetriesExhaustedError; 401 and 403
 * throw AuthError (saying that customer lists need an OAuth token with ads:write, not a
 * conversion token); other refusals throw PinterestRefusedError. `signal` stops a wait.
 */
export interface CustomerListApi {
  /** The list, or undefined when the ad account has no list of that id. */
  getList(id: string, signal?: AbortSignal): Promise<CustomerList | undefined>;
  /** The ad account's lists named exactly `name` (all pages). */
  findLists(name: string, signal?: AbortSignal): Promise<CustomerList[]>;
  createList(input: { name: string; listType: ListType; records: readonly string[] }, signal?: AbortSignal): Promise<CustomerList>;
  updateList(id: string, operation: ListOperation, records: readonly string[], signal?: AbortSignal): Promise<CustomerList>;
  /** The ad account's CUSTOMER_LIST audiences built on this list (all pages). */
  findAudiences(listId: string, signal?: AbortSignal): Promise<Audience[]>;
  createAudience(input: { name: string; listId: string }, signal?: AbortSignal): Promise<Audience>;
  report(): ListRequestsReport;
  /** Safe to call twice. */
  close(): Promise<void>;
}
