/**
 * The supervisor policy, model-tested: random storms of events (boots, crashes, signals, recycling,
 * time passing) against the invariants it promises. fast-check, fixed seed, bounded runs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { QueueFacts } from '../../../src/bridge/dispatch-queue.js';
import {
  bootBackoff,
  initialState,
  SCALE_UP_WAIT_MS,
  type SupervisorAction,
  type SupervisorEvent,
  type SupervisorState,
  step,
} from '../../../src/supervisor/policy.js';

type Command =
  | { readonly kind: 'booted' | 'bootFailed' | 'exited' | 'recycle' | 'timedOut'; readonly pick: number }
  | { readonly kind: 'reload' | 'more' | 'fewer' }
  | { readonly kind: 'wait'; readonly ms: number }
  | ({ readonly kind: 'pressure' } & QueueFacts);

const perWorker = (kind: 'booted' | 'bootFailed' | 'exited' | 'recycle' | 'timedOut') =>
  fc.nat(50).map((pick) => ({ kind, pick }) as Command);

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: perWorker('booted') },
  { weight: 3, arbitrary: perWorker('exited') },
  { weight: 1, arbitrary: perWorker('bootFailed') },
  { weight: 1, arbitrary: perWorker('recycle') },
  { weight: 1, arbitrary: perWorker('timedOut') },
  { weight: 2, arbitrary: fc.constant({ kind: 'reload' } as Command) },
  { weight: 2, arbitrary: fc.constant({ kind: 'more' } as Command) },
  { weight: 2, arbitrary: fc.constant({ kind: 'fewer' } as Command) },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 1, max: 40_000 }).map((ms) => ({ kind: 'wait', ms }) as Command),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({ oldestWaitMs: fc.nat(2000), queued: fc.nat(20), idle: fc.nat(4) })
      .map((facts) => ({ kind: 'pressure', ...facts }) as Command),
  },
);

/** --max-workers above -w (or none), and a cool-down. */
const scaling = fc.record({ extra: fc.nat(3), cooldown: fc.integer({ min: 0, max: 5000 }) });

const ids = (s: SupervisorState) => [...s.workers.keys()];
const ready = (s: SupervisorState) => [...s.workers.values()].filter((w) => w.phase === 'ready');

/** Runs the policy the way the bridge does; records every action. */
class Model {
  state: SupervisorState;
  now = 0;
  readonly spawned = new Set<number>();
  readonly log: SupervisorAction[] = [];

  constructor(target: number, extra = 0, cooldown = 0) {
    this.state = initialState(target, { max: target + extra, cooldown });
    this.apply({ type: 'tick' });
  }

  apply(event: SupervisorEvent): readonly SupervisorAction[] {
    const { state, actions } = step(this.state, event, this.now);
    for (const a of actions) {
      if (a.type === 'spawn') {
        assert.ok(!this.spawned.has(a.id), `worker ${a.id} spawned twice`);
        assert.ok(!this.state.stopping, 'a worker was started while stopping');
        this.spawned.add(a.id);
      }
      if (a.type === 'retire' || a.type === 'kill')
        assert.ok(state.workers.has(a.id), 'acting on a gone worker');
    }
    this.state = state;
    this.log.push(...actions);
    return actions;
  }

  run(c: Command): SupervisorEvent {
    const all = ids(this.state);
    let event: SupervisorEvent;
    if (c.kind === 'wait') {
      this.now += c.ms;
      event = { type: 'tick' };
    } else if (c.kind === 'pressure') {
      const { kind: _, ...facts } = c;
      event = { type: 'pressure', ...facts };
    } else if ('pick' in c) {
      if (all.length === 0) event = { type: 'tick' };
      else event = { type: c.kind, id: all[c.pick % all.length]!, reason: 'max_requests' } as SupervisorEvent;
    } else event = { type: c.kind, why: 'test' } as SupervisorEvent;
    this.apply(event);
    return event;
  }

  /** What the processes do when left alone: booting workers boot, draining ones exit, time passes. */
  settle(): void {
    for (let round = 0; round < 100; round++) {
      const booting = [...this.state.workers.values()].filter((w) => w.phase === 'booting');
      const draining = [...this.state.workers.values()].filter((w) => w.phase === 'draining');
      if (booting.length === 0 && draining.length === 0 && this.now >= this.state.startAfter) {
        this.apply({ type: 'tick' });
        if ([...this.state.workers.values()].every((w) => w.phase === 'ready')) return;
      }
      for (const w of booting) this.apply({ type: 'booted', id: w.id });
      for (const w of draining) this.apply({ type: 'exited', id: w.id });
      this.now += 31_000;
      this.apply({ type: 'tick' });
    }
    assert.fail(`did not settle: ${JSON.stringify([...this.state.workers.values()])}`);
  }
}

test('any storm of events settles at exactly the target, all of the newest generation', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 }),
      scaling,
      fc.array(command, { maxLength: 60 }),
      (workers, { extra, cooldown }, commands) => {
        const model = new Model(workers, extra, cooldown);
        for (const c of commands) {
          model.run(c);
          const s = model.state;
          assert.ok(
            s.min >= 1 && s.min <= s.target && s.target <= s.max,
            `target ${s.target} outside [${s.min}, ${s.max}]`,
          );
          const current = [...s.workers.values()].filter(
            (w) => w.generation === s.generation && w.phase !== 'draining',
          );
          assert.ok(
            current.length <= s.target,
            `${current.length} live workers of the newest generation for ${s.target}`,
          );
        }
        model.settle();
        const s = model.state;
        assert.equal(s.workers.size, s.target);
        for (const w of s.workers.values()) {
          assert.equal(w.phase, 'ready');
          assert.equal(w.generation, s.generation, 'an older generation still serves');
        }
      },
    ),
    { seed: 1204, numRuns: 400 },
  );
});

test('no event the policy acts on by itself takes the last ready worker away', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3 }),
      scaling,
      fc.array(command, { maxLength: 60 }),
      (workers, { extra, cooldown }, commands) => {
        const model = new Model(workers, extra, cooldown);
        model.settle();
        for (const c of commands) {
          const before = ready(model.state).length;
          const event = model.run(c);
          // Crashes, timeouts and recycling take a worker away by their nature; reloads, TTIN/TTOU, boots
          // and time passing must not leave nobody serving.
          if (['exited', 'timedOut', 'recycle', 'bootFailed'].includes(event.type)) continue;
          if (before > 0) assert.ok(ready(model.state).length > 0, `${event.type} left no ready worker`);
        }
      },
    ),
    { seed: 1205, numRuns: 400 },
  );
});

test('stop: no worker is started any more, booting ones are killed, ready ones serve until halt', () => {
  fc.assert(
    fc.property(
      fc.array(command, { maxLength: 30 }),
      fc.array(command, { maxLength: 30 }),
      (before, after) => {
        const model = new Model(2);
        for (const c of before) model.run(c);
        model.apply({ type: 'stop' });
        for (const w of model.state.workers.values()) assert.notEqual(w.phase, 'booting');
        for (const c of after) model.run(c); // asserts no spawn while stopping
        model.apply({ type: 'halt' });
        for (const w of model.state.workers.values()) assert.equal(w.phase, 'draining');
        for (const id of ids(model.state)) model.apply({ type: 'exited', id });
        assert.equal(model.state.workers.size, 0);
      },
    ),
    { seed: 1206, numRuns: 300 },
  );
});

test('the two storms of the issue: TTIN/TTOU pairs and HUPs during a slow boot end at the target', () => {
  const ttin = new Model(2);
  ttin.settle();
  for (let i = 0; i < 10; i++) {
    ttin.apply({ type: 'more' });
    ttin.apply({ type: 'fewer' });
  }
  ttin.settle();
  assert.equal(ttin.state.workers.size, 2);

  const hup = new Model(2);
  hup.settle();
  for (let i = 0; i < 3; i++) hup.apply({ type: 'reload', why: 'SIGHUP' }); // the new workers still booting
  hup.settle();
  assert.equal(hup.state.workers.size, 2);
  assert.ok([...hup.state.workers.values()].every((w) => w.generation === hup.state.generation));
});

test('a reload whose code cannot boot is abandoned; the old workers keep serving', () => {
  const model = new Model(2);
  model.settle();
  const old = ids(model.state);
  const actions = model.apply({ type: 'reload', why: 'SIGHUP' });
  const fresh = actions.flatMap((a) => (a.type === 'spawn' ? [a.id] : []));
  assert.equal(fresh.length, 2);
  model.apply({ type: 'bootFailed', id: fresh[0]! });
  assert.ok(model.log.some((a) => a.type === 'reloadFailed'));
  model.settle();
  assert.deepEqual(ids(model.state).sort(), old.sort());
});

test('boot failures back off: 1 s, doubling, at most 30 s', () => {
  assert.deepEqual([0, 1, 2, 3, 6, 9].map(bootBackoff), [0, 1000, 2000, 4000, 30_000, 30_000]);
  const model = new Model(1);
  const first = ids(model.state)[0]!;
  model.apply({ type: 'exited', id: first }); // died while booting
  assert.equal(model.state.workers.size, 0);
  const waits = model.log.filter((a) => a.type === 'wakeAt');
  assert.equal(waits.at(-1)?.type === 'wakeAt' && waits.at(-1)!.at, 1000);
  model.now = 1000;
  const again = model.apply({ type: 'tick' });
  assert.ok(again.some((a) => a.type === 'spawn'));
});

const busy = (oldestWaitMs: number): SupervisorEvent => ({
  type: 'pressure',
  oldestWaitMs,
  queued: 5,
  idle: 0,
});
const calm: SupervisorEvent = { type: 'pressure', oldestWaitMs: 0, queued: 0, idle: 1 };

test('queue pressure scales up to --max-workers, one booting worker at a time, and no further', () => {
  const model = new Model(2, 2, 10_000);
  model.settle();
  model.apply(busy(SCALE_UP_WAIT_MS - 1));
  assert.equal(model.state.target, 2, 'a short wait is no pressure');
  model.apply(busy(SCALE_UP_WAIT_MS));
  assert.equal(model.state.target, 3);
  model.apply(busy(5000));
  assert.equal(model.state.target, 3, 'a second worker while the first still boots');
  model.settle();
  assert.equal(model.state.workers.size, 3);
  for (let i = 0; i < 5; i++) {
    model.apply(busy(5000));
    model.settle();
  }
  assert.equal(model.state.target, 4);
  assert.equal(model.state.workers.size, 4);
  model.apply({ type: 'pressure', oldestWaitMs: 5000, queued: 5, idle: 1 });
  assert.equal(model.state.target, 4);
});

test('idleness scales back down to -w, one worker per cool-down, only after an unbroken idle spell', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 20_000 }), (workers, cooldown) => {
      const model = new Model(workers, 3, cooldown);
      model.settle();
      for (let i = 0; i < 3; i++) {
        model.apply(busy(1000));
        model.settle();
      }
      assert.equal(model.state.target, workers + 3);
      const start = model.now;
      model.apply(calm);
      model.now += cooldown - 1;
      model.apply(calm);
      assert.equal(model.state.target, workers + 3, 'scaled down before the cool-down');
      model.apply(busy(0)); // a request waited: the idle spell is broken
      model.now += 1;
      model.apply(calm);
      assert.equal(model.state.target, workers + 3, 'the spell restarts after a busy report');
      const downs: number[] = [];
      for (let t = 0; t < 10 * cooldown && model.state.target > workers; t += Math.ceil(cooldown / 4)) {
        model.now += Math.ceil(cooldown / 4);
        const before = model.state.target;
        model.apply(calm);
        if (model.state.target < before) downs.push(model.now);
      }
      assert.equal(model.state.target, workers);
      assert.equal(downs.length, 3);
      assert.ok(downs[0]! - start >= cooldown);
      for (let i = 1; i < downs.length; i++) assert.ok(downs[i]! - downs[i - 1]! >= cooldown);
      model.settle();
      assert.equal(model.state.workers.size, workers);
    }),
    { seed: 1207, numRuns: 200 },
  );
});

test('without --max-workers, pressure never moves the target; TTIN/TTOU still do', () => {
  const model = new Model(2);
  model.settle();
  model.apply(busy(60_000));
  assert.equal(model.state.target, 2);
  model.apply({ type: 'more' });
  assert.deepEqual([model.state.min, model.state.target, model.state.max], [3, 3, 3]);
  model.apply({ type: 'fewer' });
  model.apply({ type: 'fewer' });
  model.apply({ type: 'fewer' });
  assert.deepEqual([model.state.min, model.state.target, model.state.max], [1, 1, 3]);
});
