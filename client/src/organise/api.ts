/**
 * The organiser page's calls to its server (`/organise/api/...`). The browser sends the admin
 * token it was asked for (HTTP Basic) with each of them; a failed call rejects with the server's
 * named error.
 */
import { errorFromPayload, ORGANISE_API, type CreateRoomRequest, type OrganiserErrorBody, type OrganiserRoom, type OrganiserRooms, type RemoveMemberRequest, type UploadedModel, type UploadModelRequest } from '@tabswarm/shared/protocol';

/** Every call gives up after this long (an upload of megabytes, after UPLOAD_MS). */
const CALL_MS = 10_000;
const UPLOAD_MS = 120_000;

export function listRooms(): Promise<OrganiserRoom[]> {
  return call<OrganiserRooms>('GET', ORGANISE_API.rooms).then((r) => r.rooms);
}

export function createRoom(request: CreateRoomRequest): Promise<OrganiserRoom> {
  return call('POST', ORGANISE_API.rooms, request);
}

/** Uploads a model file; the answer's `task` is the room key that trains it. */
export function uploadModel(request: UploadModelRequest): Promise<UploadedModel> {
  return call('POST', ORGANISE_API.models, request, UPLOAD_MS);
}

export function removeMember(request: RemoveMemberRequest): Promise<void> {
  return call('POST', ORGANISE_API.remove, request).then(() => undefined);
}

export function qrUrl(room: string): string {
  return `${ORGANISE_API.qr}?room=${encodeURIComponent(room)}`;
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = CALL_MS): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const answer = await response.json() as unknown;
  if (!response.ok) throw errorFromPayload((answer as OrganiserErrorBody).error);
  return answer as T;
}
