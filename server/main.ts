import { serve } from './serve.js';

await serve(process.argv.slice(2));
