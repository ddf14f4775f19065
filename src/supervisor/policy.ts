/**
 * The supervisor's policy: how many Python workers run, of which generation, and when one is started,
 * retired or killed. A pure function from (state, event, now) to (state, actions), as Gunicorn's arbiter
 * decides everything in one loop while its signal handlers only enqueue. The supervisor shell
 * (src/supervisor/shell.ts) carries the actions out and reports what happened as events; nothing
 * here touches a process or a timer, so the model tests can drive it through any storm of events.
 *
 *             spawn                booted                retire / kill
 *     (none) ───────▶ booting ──────────────▶ ready ──────────────────▶ draining ──▶ (gone: exited)
 *                        │                                                 ▲
 *                        └──── bootFailed, reload (old generation), ───────┘
 *                              fewer (TTOU), stop (TERM)
 *
 * The rules, applied after every event:
 *   - stopping (TERM): no worker is started, those still booting are killed; ready ones keep serving what
 *     is queued until `halt`, when every worker drains;
 *   - the newest generation (bumped by reload: SIGHUP or --reload) is kept at `target` workers, booting
 *     or ready; extras are retired, booting ones first, then the oldest (as Gunicorn's TTOU does);
 *   - a worker of an older generation that is still booting is killed at once (it would serve old code);
 *     ready ones keep serving until the newest generation has `target` ready workers, then all retire
 *     together: a reload never leaves fewer ready workers than there were;
 *   - a worker that fails to boot delays the next start (1 s, doubling to 30 s); one of a reload's
 *     generation, while an older generation is serving, abandons the reload (the old code keeps serving);
 *   - autoscaling (--max-workers, uWSGI's "cheaper" idea): `pressure` reports the queue. While requests
 *     have waited SCALE_UP_WAIT_MS or more and no worker is idle, the target rises by one, up to `max`, one
 *     booting worker at a time; once some worker has been idle at every report for `cooldown` ms and
 *     nothing waits, it falls by one, down to `min` (-w), at most once per `cooldown`.
 */
import type { QueueFacts } from '../bridge/dispatch-queue.js';

export type Phase = 'booting' | 'ready' | 'draining';

export interface WorkerRecord {
  readonly id: number;
  readonly generation: number;
  readonly phase: Phase;
}

export interface SupervisorState {
  /** Workers wanted: between `min` and `max`, moved by TTIN/TTOU and by queue pressure. */
  readonly target: number;
  /** The floor (-w, moved by TTIN/TTOU) and the ceiling (--max-workers; `min` when not autoscaling). */
  readonly min: number;
  readonly max: number;
  /** Autoscaling: how long (ms) a worker must have been idle before the target falls by one. */
  readonly cooldown: number;
  /** Since when (ms) every pressure report saw an idle worker and an empty queue; -1 when the last did not. */
  readonly idleSince: number;
  /** The newest generation: workers of older ones are replaced. */
  readonly generation: number;
  /** Workers alive or starting, by id (a worker that has exited is no longer here). */
  readonly workers: ReadonlyMap<number, WorkerRecord>;
  readonly nextId: number;
  readonly stopping: boolean;
  readonly halted: boolean;
  /** A reload is under way: its generation is not yet ready in full. */
  readonly reloading: boolean;
  /** Boot failures in a row, and the earliest time (ms) a worker may be started after them. */
  readonly bootFailures: number;
  readonly startAfter: number;
}

export type RecycleReason = 'max_requests' | 'memory';

/** A queued request that has waited this long while no worker is idle asks for one more worker. */
export const SCALE_UP_WAIT_MS = 100;

export type SupervisorEvent =
  | { readonly type: 'booted'; readonly id: number }
  | { readonly type: 'bootFailed'; readonly id: number }
  | { readonly type: 'exited'; readonly id: number }
  | { readonly type: 'recycle'; readonly id: number; readonly reason: RecycleReason }
  | { readonly type: 'timedOut'; readonly id: number }
  | { readonly type: 'reload'; readonly why: string }
  | { readonly type: 'more' }
  | { readonly type: 'fewer' }
  | ({ readonly type: 'pressure' } & QueueFacts)
  | { readonly type: 'stop' }
  | { readonly type: 'halt' }
  | { readonly type: 'tick' };

export type SupervisorAction =
  | { readonly type: 'spawn'; readonly id: number; readonly generation: number }
  /** Stop giving it requests; it exits once what it holds is done. */
  | { readonly type: 'retire'; readonly id: number }
  | { readonly type: 'kill'; readonly id: number }
  /** Deliver a 'tick' at this time (ms, the clock `now` is read from). */
  | { readonly type: 'wakeAt'; readonly at: number }
  /** The newest generation serves in full; the older one was told to drain. */
  | { readonly type: 'reloaded'; readonly generation: number }
  /** A worker of the reload's code could not boot; the older generation keeps serving. */
  | { readonly type: 'reloadFailed' }
  | { readonly type: 'log'; readonly level: 'info' | 'warning' | 'error'; readonly message: string };

export interface Step {
  readonly state: SupervisorState;
  readonly actions: readonly SupervisorAction[];
}

/** Wait before starting a worker after `failures` boot failures in a row: 1 s, doubling to 30 s. */
export function bootBackoff(failures: number): number {
  return failures === 0 ? 0 : Math.min(30_000, 1000 * 2 ** (failures - 1));
}

export interface Scaling {
  /** --max-workers: the most workers queue pressure may start (at least `target`). */
  readonly max: number;
  /** Idle time (ms) before a worker above `target` is retired. */
  readonly cooldown: number;
}

export function initialState(target: number, scaling?: Scaling): SupervisorState {
  return {
    target,
    min: target,
    max: Math.max(target, scaling?.max ?? target),
    cooldown: scaling?.cooldown ?? 0,
    idleSince: -1,
    generation: 1,
    workers: new Map(),
    nextId: 1,
    stopping: false,
    halted: false,
    reloading: false,
    bootFailures: 0,
    startAfter: 0,
  };
}

/** Applies one event, then the rules; returns the new state and what the bridge must do. */
export function step(state: SupervisorState, event: SupervisorEvent, now: number): Step {
  const s = { ...state, workers: new Map(state.workers) };
  const actions: SupervisorAction[] = [];
  const set = (id: number, phase: Phase) => {
    const w = s.workers.get(id);
    if (w !== undefined) s.workers.set(id, { ...w, phase });
  };
  const drain = (w: WorkerRecord) => {
    set(w.id, 'draining');
    actions.push(w.phase === 'booting' ? { type: 'kill', id: w.id } : { type: 'retire', id: w.id });
  };
  const worker = 'id' in event ? s.workers.get(event.id) : undefined;

  switch (event.type) {
    case 'booted':
      if (worker?.phase === 'booting') {
        set(worker.id, 'ready');
        s.bootFailures = 0;
      }
      break;
    case 'bootFailed':
    case 'exited': {
      if (worker === undefined) break;
      const failedBoot = worker.phase === 'booting';
      if (event.type === 'exited') s.workers.delete(worker.id);
      else set(worker.id, 'draining');
      if (!failedBoot || s.stopping) break;
      s.bootFailures++;
      s.startAfter = now + bootBackoff(s.bootFailures);
      // A reload whose new code cannot boot is abandoned while the old code still serves.
      if (worker.generation === s.generation) {
        let serving = 0;
        for (const w of s.workers.values())
          if (w.phase === 'ready' && w.generation < s.generation) serving = Math.max(serving, w.generation);
        if (serving > 0) {
          actions.push({ type: 'reloadFailed' });
          s.generation = serving;
          s.reloading = false;
        }
      }
      break;
    }
    case 'recycle':
      if (worker?.phase === 'ready') {
        actions.push({
          type: 'log',
          level: 'info',
          message: `Worker ${worker.id}: ${event.reason}; replacing it`,
        });
        drain(worker);
      }
      break;
    case 'timedOut':
      if (worker !== undefined && worker.phase !== 'draining') {
        set(worker.id, 'draining');
        actions.push({ type: 'kill', id: worker.id });
      }
      break;
    case 'reload':
      if (!s.stopping) {
        s.generation = Math.max(s.generation, ...[...s.workers.values()].map((w) => w.generation)) + 1;
        s.reloading = true;
        actions.push({
          type: 'log',
          level: 'info',
          message: `Reloading (${event.why}): generation ${s.generation}`,
        });
      }
      break;
    case 'more':
      // TTIN/TTOU move the floor (and the ceiling with it when it would fall below).
      s.min++;
      s.max = Math.max(s.max, s.min);
      s.target = Math.max(s.target, s.min);
      actions.push({ type: 'log', level: 'info', message: `Workers: ${s.target}` });
      break;
    case 'fewer':
      if (s.min > 1) {
        s.min--;
        s.target = Math.max(s.min, s.target - 1);
        actions.push({ type: 'log', level: 'info', message: `Workers: ${s.target}` });
      }
      break;
    case 'pressure':
      if (!s.stopping) scale(s, event, actions, now);
      break;
    case 'stop':
      s.stopping = true;
      break;
    case 'halt':
      s.stopping = true;
      s.halted = true;
      break;
    case 'tick':
      break;
  }

  reconcile(s, actions, drain, now);
  return { state: s, actions };
}

type MutableState = { -readonly [K in keyof SupervisorState]: SupervisorState[K] } & {
  workers: Map<number, WorkerRecord>;
};

/** Autoscaling between `min` and `max` on the queue's facts (see the rules at the top). */
function scale(s: MutableState, facts: QueueFacts, actions: SupervisorAction[], now: number): void {
  const calm = facts.idle > 0 && facts.queued === 0;
  if (!calm) s.idleSince = -1;
  else if (s.idleSince < 0) s.idleSince = now;
  if (s.max === s.min) return;
  if (facts.queued > 0 && facts.idle === 0 && facts.oldestWaitMs >= SCALE_UP_WAIT_MS && s.target < s.max) {
    // One worker at a time: while one boots, the queue's wait says nothing about the next.
    for (const w of s.workers.values()) if (w.generation === s.generation && w.phase === 'booting') return;
    s.target++;
    actions.push({
      type: 'log',
      level: 'info',
      message: `Scaling up: workers ${s.target} (${facts.queued} queued, the oldest for ${Math.round(facts.oldestWaitMs)} ms)`,
    });
  } else if (calm && s.target > s.min && now - s.idleSince >= s.cooldown) {
    s.target--;
    s.idleSince = now; // the next one waits another cool-down
    actions.push({
      type: 'log',
      level: 'info',
      message: `Scaling down: workers ${s.target} (a worker idle for ${Math.round(s.cooldown / 1000)} s)`,
    });
  }
}

function reconcile(
  s: MutableState,
  actions: SupervisorAction[],
  drain: (w: WorkerRecord) => void,
  now: number,
): void {
  const live = [...s.workers.values()].filter((w) => w.phase !== 'draining');
  if (s.stopping) {
    for (const w of live) if (s.halted || w.phase === 'booting') drain(w);
    return;
  }
  const current = live.filter((w) => w.generation === s.generation);
  const older = live.filter((w) => w.generation !== s.generation);
  // Older workers still booting would only ever serve old code.
  for (const w of older) if (w.phase === 'booting') drain(w);

  // Extras of the newest generation: booting ones first, then the oldest ready ones.
  const excess = current.length - s.target;
  if (excess > 0) {
    const order = [...current].sort((a, b) =>
      a.phase === b.phase ? a.id - b.id : a.phase === 'booting' ? -1 : 1,
    );
    for (const w of order.slice(0, excess)) drain(w);
  }

  const missing = s.target - Math.min(current.length, s.target);
  if (missing > 0) {
    if (now >= s.startAfter) {
      for (let i = 0; i < missing; i++) {
        const id = s.nextId++;
        s.workers.set(id, { id, generation: s.generation, phase: 'booting' });
        actions.push({ type: 'spawn', id, generation: s.generation });
      }
    } else actions.push({ type: 'wakeAt', at: s.startAfter });
  }

  // The newest generation serves in full: the others drain (older code, or an abandoned reload's).
  let ready = 0;
  for (const w of s.workers.values()) if (w.generation === s.generation && w.phase === 'ready') ready++;
  if (ready >= s.target) {
    for (const w of older) if (w.phase === 'ready') drain(w);
    if (s.reloading) {
      s.reloading = false;
      actions.push({ type: 'reloaded', generation: s.generation });
    }
  }
}
