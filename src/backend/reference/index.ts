export { ReferenceBackend, type ReferenceOptions } from './reference-backend.js';
