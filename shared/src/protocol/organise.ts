/**
 * The organiser page's HTTP API (`/organise/api/...` on the signaling server, behind the admin
 * token): the rooms with their members' last progress reports, a new room, a member removed.
 * Progress is what members report (`room:report` of kind `progress`): never a weight or a gradient.
 */
import type { RunConfig } from '../train/config.ts';
import type { ProgressReport } from './signaling.ts';

/** Paths of the organiser page and its API. */
export const ORGANISE_PATH = '/organise';
export const ORGANISE_API = {
  rooms: '/organise/api/rooms',
  remove: '/organise/api/remove',
  /** POST a model file (UploadModelRequest): checked and kept; a room trains it by its `task`. */
  models: '/organise/api/models',
  /** `?room=NAME`: the room's invite link as an SVG QR code. */
  qr: '/organise/api/qr.svg',
} as const;

export interface OrganiserMember {
  peerId: string;
  /** Its last progress report, null before its first. */
  progress: ProgressReport | null;
  /** Milliseconds since that report. */
  reportedAgoMs: number | null;
}

export interface OrganiserRoom {
  room: string;
  /** The organiser's room (fixed configuration), or one a first tab opened. */
  organised: boolean;
  epoch: number;
  config: RunConfig;
  members: OrganiserMember[];
  /** Over the members' reports: the furthest step, its member's accuracy, the mean steps/s and bytes per step; null without reports. */
  step: number | null;
  accuracy: number | null;
  stepsPerSecond: number | null;
  bytesPerStep: number | null;
  /** The link that joins it (with a join ticket on a server that requires them). */
  invite: string;
}

/** GET ORGANISE_API.rooms */
export interface OrganiserRooms {
  rooms: OrganiserRoom[];
}

/** POST ORGANISE_API.rooms: a room and its configuration keys (values as in a URL). */
export interface CreateRoomRequest {
  room: string;
  config: Record<string, string>;
}

/** POST ORGANISE_API.models: model.json's text and the weights files its manifest names, by name, in base64. */
export interface UploadModelRequest {
  modelJson: string;
  weights: Record<string, string>;
}

/** The answer to an upload: the room key `task` that names the model, and its size. */
export interface UploadedModel {
  task: string;
  layers: number;
  /** Values in its weights; null when the file has none (the room starts from the seed). */
  parameters: number | null;
}

/** POST ORGANISE_API.remove: the server evicts the member; its tab says so and stays out. */
export interface RemoveMemberRequest {
  room: string;
  peerId: string;
}

/** The body of every failed API request: a named error, as on the socket. */
export interface OrganiserErrorBody {
  error: { name: string; message: string };
}
