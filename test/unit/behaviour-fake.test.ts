// The behaviour suite (test/behaviour/suite.ts) against the fake kernel; the
// same suite runs against Linux in UML (test/kernel/lib/behaviour.ts).
import t from 'tap';
import { fakeEnv } from '../behaviour/env';
import { behaviourSuite } from '../behaviour/suite';

behaviourSuite(t, fakeEnv);
