import { describeEngine } from '../test/engineChecks.js';
import { jsSequenceEngine } from './jsEngine.js';

describeEngine('JavaScript engine', () => jsSequenceEngine);
