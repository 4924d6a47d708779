import { spawn } from 'node:child_process';

// The flood runs in its own process, so sending it does not jitter the event loop that times the
// granted callers. It sends `perSecond` POSTs on 10 ms ticks while switched on, whatever the answers do.
const SCRIPT = `
const http = require('node:http');
const { url, body, perSecond, ungranted } = JSON.parse(process.argv[1]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const counts = {};
let on = false, sent = 0, started = 0, inFlight = 0, ending = false;
function headers(i) {
  return i % 4 === 0 ? { authorization: 'Bearer ' + ungranted } : { authorization: 'Bearer not.a.jwt' + i, 'x-forwarded-for': '203.0.113.' + (i % 8) };
}
function finish() { if (ending && inFlight === 0) { process.stdout.write(JSON.stringify(counts) + '\\n'); process.exit(0); } }
function fire(i) {
  inFlight++;
  const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', ...headers(i) } }, (res) => {
    res.resume();
    res.on('end', () => { counts[res.statusCode] = (counts[res.statusCode] || 0) + 1; inFlight--; finish(); });
  });
  req.on('error', () => { counts.error = (counts.error || 0) + 1; inFlight--; finish(); });
  req.end(body);
}
setInterval(() => {
  if (!on) return;
  const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
  for (; sent < due; sent++) fire(sent);
}, 10);
process.stdin.setEncoding('utf8').on('data', (chunk) => {
  for (const line of chunk.split('\\n')) {
    if (line === 'on') { on = true; started = performance.now(); sent = 0; }
    if (line === 'off') on = false;
    if (line === 'end') { on = false; ending = true; finish(); }
  }
});
setTimeout(() => process.exit(2), 120000).unref();
`;

export interface FloodProcess {
  set(on: boolean): void;
  /** Stops the process and returns how many answers of each status it got. */
  end(): Promise<Record<string, number>>;
}

export function startFlood(spec: { url: string; body: string; perSecond: number; ungranted: string }): FloodProcess {
  const child = spawn(process.execPath, ['-e', SCRIPT, JSON.stringify(spec)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    set: (on) => void child.stdin.write(on ? 'on\n' : 'off\n'),
    end: async () => {
      child.stdin.write('end\n');
      await exited;
      return JSON.parse(out || '{}') as Record<string, number>;
    },
  };
}
