export { ReferenceBackend } from './reference-backend.js';
