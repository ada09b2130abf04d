#!/usr/bin/env node
// Checks a zhengzhao Verifiable Credential with Digital Bazaar's reference
// verifier, as a relying party would: the eddsa-jcs-2022 proof (key and
// controller document fetched from the library), every Bitstring Status List
// entry (the status list credentials fetched from the library and their own
// proofs checked), and JSON-LD expansion in safe mode of everything the
// library served, so an undefined term is an error rather than silently
// dropped.
//
//   node verify.js --library http://127.0.0.1:8080 credential.json
//   node verify.js --library https://zz.example.gov.cn https://.../vc   (bearer token in ZHENGZHAO_TOKEN)
//
// Exit 0: the proof verifies and no status bit is set. Exit 1: the proof,
// the credential or a status list failed to verify (the verifier's errors
// are printed). Exit 2: everything verified but a status bit is set (revoked
// or suspended). Exit 3: bad usage or a document could not be read.
//
// Contexts are bundled, never fetched: the W3C and security contexts from
// their npm packages, the library's license vocabulary from this repository
// (crates/zhengzhao-core/contexts/license-v1.jsonld, the same file the
// library serves at /ns/license/v1). Only URLs under --library are fetched.

import {readFile} from 'node:fs/promises';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import jsonld from 'jsonld';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import {contexts as dataIntegrityContexts} from '@digitalbazaar/data-integrity-context';
import {contexts as multikeyContexts} from '@digitalbazaar/multikey-context';
import {contexts as securityContexts} from '@digitalbazaar/security-context';
import {contexts as statusListContexts} from '@digitalbazaar/vc-bitstring-status-list-context';
import {contexts as didContexts} from 'did-context';

const LICENSE_CONTEXT_FILE = new URL(
  '../../crates/zhengzhao-core/contexts/license-v1.jsonld', import.meta.url);

function usage(message) {
  console.error(`${message}\nusage: verify.js --library BASE_URL CREDENTIAL_FILE_OR_URL`);
  process.exit(3);
}

function parseArgs(argv) {
  let library;
  let credential;
  for(let i = 0; i < argv.length; i++) {
    if(argv[i] === '--library') {
      library = argv[++i];
    } else if(credential === undefined) {
      credential = argv[i];
    } else {
      usage(`unexpected argument ${argv[i]}`);
    }
  }
  if(!library || !credential) {
    usage('missing argument');
  }
  return {library: library.replace(/\/+$/, ''), credential};
}

async function fetchJson(url, headers = {}) {
  const response = await fetch(url, {
    headers: {accept: 'application/ld+json, application/json', ...headers},
    redirect: 'error'
  });
  if(!response.ok) {
    throw new Error(`GET ${url}: HTTP ${response.status}`);
  }
  return response.json();
}

// The bundled contexts by URL, and a loader that fetches only the library's
// own documents (recording them, to expand each in safe mode afterwards).
async function makeDocumentLoader(library) {
  const bundled = new Map();
  for(const map of [credentialsContexts, dataIntegrityContexts,
    multikeyContexts, securityContexts, statusListContexts, didContexts]) {
    for(const [url, document] of map) {
      bundled.set(url, document);
    }
  }
  const licenseContext = JSON.parse(await readFile(LICENSE_CONTEXT_FILE, 'utf8'));
  bundled.set(`${library}/ns/license/v1`, licenseContext);

  const served = new Map();
  const documentLoader = async url => {
    if(bundled.has(url)) {
      return {contextUrl: null, documentUrl: url, document: bundled.get(url)};
    }
    if(!url.startsWith(`${library}/`)) {
      throw new Error(`${url} is neither a bundled context nor the library's`);
    }
    if(!served.has(url)) {
      served.set(url, await fetchJson(url));
    }
    return {contextUrl: null, documentUrl: url, document: served.get(url)};
  };
  return {documentLoader, served};
}

function describe(error) {
  if(!error) {
    return [];
  }
  if(Array.isArray(error)) {
    return error.flatMap(describe);
  }
  const lines = [error.message || String(error)];
  if(error.errors) {
    lines.push(...describe(error.errors));
  }
  if(error.cause) {
    lines.push(...describe(error.cause).map(l => `caused by: ${l}`));
  }
  return lines;
}

async function main() {
  const {library, credential: source} = parseArgs(process.argv.slice(2));
  let credential;
  try {
    if(/^https?:\/\//.test(source)) {
      const token = process.env.ZHENGZHAO_TOKEN;
      credential = await fetchJson(
        source, token ? {authorization: `Bearer ${token}`} : {});
    } else {
      credential = JSON.parse(await readFile(source, 'utf8'));
    }
  } catch(e) {
    console.error(`cannot read the credential: ${e.message}`);
    process.exit(3);
  }
  const {documentLoader, served} = await makeDocumentLoader(library);
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});

  const result = await vc.verifyCredential({
    credential, suite, documentLoader, checkStatus
  });
  const report = {
    verified: result.verified,
    errors: describe(result.error),
    status: (result.statusResult?.results || []).map(r => ({
      statusPurpose: r.credentialStatus?.statusPurpose,
      statusListIndex: r.credentialStatus?.statusListIndex,
      statusListCredential: r.credentialStatus?.statusListCredential,
      set: r.status
    })),
    expanded: []
  };
  if(result.statusResult && !result.statusResult.verified) {
    report.errors.push(...describe(result.statusResult.error));
  }
  for(const r of result.results || []) {
    if(!r.verified) {
      report.errors.push(...describe(r.error));
    }
  }

  // Safe mode: a term the contexts do not define, a relative IRI or any
  // other lossy expansion is an error, not a silent drop.
  for(const [url, document] of [['credential', credential], ...served]) {
    try {
      await jsonld.expand(document, {documentLoader, safe: true});
      report.expanded.push(url);
    } catch(e) {
      report.verified = false;
      report.errors.push(`JSON-LD safe mode refuses ${url}: ${describe(e).join('; ')}`,
        ...(e.details?.event ? [JSON.stringify(e.details.event.details ?? {})] : []));
    }
  }

  console.log(JSON.stringify(report, null, 2));
  if(!report.verified) {
    process.exit(1);
  }
  if(report.status.some(s => s.set)) {
    console.error('a status bit is set: ' + report.status.filter(s => s.set)
      .map(s => `${s.statusPurpose} at ${s.statusListIndex}`).join(', '));
    process.exit(2);
  }
}

main().catch(e => {
  console.error(describe(e).join('\n'));
  process.exit(3);
});
