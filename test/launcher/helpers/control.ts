// A tiny client of the launcher's control API, as the operator would call it.

/** One HTTP exchange with the control API. */
export interface ControlReply {
  status: number;
  body: Record<string, unknown> & { state?: string; reason?: string; disks?: { name: string; phase: string; target?: string }[] };
  text: string;
}

/** Call `method path` with the bearer token (null: without any Authorization header). */
export async function control(baseUrl: string, method: string, path: string, token: string | null, body?: unknown): Promise<ControlReply> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: ControlReply['body'] = {};
  try {
    parsed = JSON.parse(text) as ControlReply['body'];
  } catch {
    // /readyz answers plain text
  }
  return { status: res.status, body: parsed, text };
}
