// Piscina worker entry: each worker thread has its own tfjs module instance and backend.
import { executeTask } from './task.js';

export default executeTask;
