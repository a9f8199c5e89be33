import { describeEngine } from '../../test/engineChecks.js';
import { jsSequenceEngine } from './js.js';

describeEngine('JavaScript engine', () => jsSequenceEngine);
