// The batch and live API, called from the page with the key kept in the
// browser's storage. Every error becomes an ApiError whose message can be
// shown as it is.

const KEY = "whospoke.key";

export class ApiError extends Error {
  constructor(message: string, readonly status = 0) {
    super(message);
  }
}

export const key = {
  get: (): string => localStorage.getItem(KEY) ?? "",
  set: (k: string) => localStorage.setItem(KEY, k),
  clear: () => localStorage.removeItem(KEY),
};

// Pre-signed media URLs and the live socket URL are absolute, built from the
// server's --public-url; the page uses their path on its own origin so that no
// request leaves it (and the CSP's 'self' holds behind any host name).
export function onOrigin(u: string, ws = false): string {
  const p = new URL(u, location.href);
  const base = ws ? location.origin.replace(/^http/, "ws") : location.origin;
  return base + p.pathname + p.search;
}

// plain turns an HTTP error answer into one sentence for people.
async function plain(r: Response): Promise<ApiError> {
  let msg = "";
  try {
    const b = await r.json();
    msg = b.message ?? "";
    if (Array.isArray(b.errors) && b.errors.length)
      msg += " — " + b.errors.map((e: { field: string; message: string }) => `${e.field}: ${e.message}`).join("; ");
  } catch {
    msg = r.statusText;
  }
  const lead: Record<number, string> = {
    401: "API key rejected",
    403: "Not allowed",
    413: "File too large",
    429: "Server busy",
    503: "Server busy",
  };
  // The header's seconds replace the message's pointer to the header.
  const retry = r.headers.get("Retry-After");
  if (retry) msg = msg.replace(/[;,]?\s*retry after the time in Retry-After/i, "") + ` — retry in ${retry} s`;
  const text = `${lead[r.status] ?? "Request failed"} (${r.status})${msg ? ": " + msg : ""}`;
  return new ApiError(text, r.status);
}

export async function call<T>(method: string, path: string, body?: unknown, k = key.get()): Promise<T> {
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${k}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError("Cannot reach the server");
  }
  if (!r.ok) throw await plain(r);
  return r.json() as Promise<T>;
}

// upload puts a file in the server's media store and returns its media:// URL.
export async function upload(file: Blob, name: string): Promise<string> {
  const safe = name.replace(/[^a-zA-Z0-9\-_.]/g, "_").slice(-80) || "audio";
  const media = `media://web/${crypto.randomUUID()}/${safe}`;
  const { url } = await call<{ url: string }>("POST", "/v1/media/input", { url: media });
  let r: Response;
  try {
    r = await fetch(onOrigin(url), { method: "PUT", body: file });
  } catch {
    throw new ApiError("Cannot reach the server");
  }
  if (!r.ok) throw await plain(r);
  return media;
}

export interface Job<T = unknown> {
  jobId: string;
  status: string;
  createdAt: string;
  output?: T & { error?: string };
}

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// waitJob polls a job once a second (the poll limit is 300 a minute per
// team) until it ends; a failed job throws its error as the server gave it.
export async function waitJob<T>(id: string, onStatus: (s: string) => void): Promise<Job<T>> {
  for (;;) {
    const job = await call<Job<T>>("GET", `/v1/jobs/${id}`);
    onStatus(job.status);
    if (TERMINAL.has(job.status)) {
      if (job.status === "succeeded") return job;
      throw new ApiError(`Job ${job.status}${job.output?.error ? ": " + job.output.error : ""}`);
    }
    await sleep(1000);
  }
}
