// The JSON-RPC contract between the extension host (client) and the inference worker
// (src/cli/worker.ts, a child process hosting the Engine). Both sides import these types, so a
// renamed field breaks the build instead of a running editor. Message objects only: no effects.
//
// Cancellation uses JSON-RPC's own `$/cancelRequest`: the client passes a CancellationToken to
// `sendRequest`, the worker turns the request's token into the engine's AbortSignal.
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { CompletionRequest, CompletionResult, ModelInfo } from '../engine/api';

/** Where the worker loads its model from. */
export interface LoadParams {
  modelDir: string;
  /** GeDi discriminator folder; absent means no steering. */
  gediDir?: string;
}

export interface CompleteParams {
  request: CompletionRequest;
}

export interface InfillParams {
  request: CompletionRequest;
  /** Number of candidates. */
  n: number;
}

/** Counters the worker keeps about generations; the e2e test reads `maxActiveGenerations`. */
export interface WorkerStats {
  /** Generations running right now (the worker runs at most one; a new one aborts the old). */
  activeGenerations: number;
  /** Highest `activeGenerations` ever observed in this worker process. */
  maxActiveGenerations: number;
  started: number;
  completed: number;
  aborted: number;
  failed: number;
  /** The model currently loaded, if any. */
  model: string | null;
  /** Worker process id, to tell restarts apart. */
  pid: number;
  /** The node flags the worker runs with (engine/heap.ts). */
  nodeFlags: string[];
}

/** A JSON-RPC error payload the worker attaches to failed requests. */
export interface WorkerErrorData {
  /** TrellisError code, or `internal`. */
  code: string;
  /** The file the error names, if any. */
  file?: string;
}

/** JSON-RPC error code the worker uses when a request was aborted (matches LSP's RequestCancelled). */
export const REQUEST_CANCELLED = -32800;
/** JSON-RPC error code for a TrellisError (an error the user can act on). */
export const TRELLIS_ERROR = -32001;
/** JSON-RPC error code for a request that needs a model while none is loaded. */
export const NO_MODEL = -32002;

export const LoadRequest = new RequestType<LoadParams, ModelInfo, WorkerErrorData>('trellis/load');
export const InfoRequest = new RequestType0<ModelInfo | null, void>('trellis/info');
export const CompleteRequest = new RequestType<CompleteParams, CompletionResult, WorkerErrorData>('trellis/complete');
export const InfillRequest = new RequestType<InfillParams, CompletionResult[], WorkerErrorData>('trellis/infill');
export const StatsRequest = new RequestType0<WorkerStats, void>('trellis/stats');
/** Aborts every running generation (used before a reload). Single requests use `$/cancelRequest`. */
export const CancelAllNotification = new NotificationType<{ reason: string }>('trellis/cancelAll');
/** Worker → client: one log line, shown in the "Trellis" log channel. */
export const LogNotification = new NotificationType<{ level: 'trace' | 'debug' | 'info' | 'warn' | 'error'; message: string }>('trellis/log');
/** Worker → client, once, when the worker listens: requests may be sent from then on. */
export const ReadyNotification = new NotificationType<{ pid: number; node: string }>('trellis/ready');
