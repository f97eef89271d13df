export { evaluatePython, tryEvaluatePython, MAX_EXPR_DEPTH, MAX_SOURCE_CHARS, MAX_NODES, type EvalResult } from './evaluate.js';
export { MAX_PAREN_LEVEL } from './lexer.js';
export {
  PyEvalError, MAX_INT_BITS, MAX_WORK, formatPyNum, intToFloat,
  type PyNum, type PyInt, type PyFloat, type PyComplex, type PyEvalErrorKind,
} from './values.js';
