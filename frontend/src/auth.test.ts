import { describe, expect, it } from "vitest";
import { authorizeUrl, base64url, pkceChallenge } from "./auth";

describe("managed login with PKCE", () => {
  // RFC 7636, Appendix B: the 32 random octets, their verifier and its S256 challenge.
  const octets = new Uint8Array([116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121]);

  it("derives the verifier and challenge of RFC 7636's example", async () => {
    const verifier = base64url(octets);
    expect(verifier).toBe("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    expect(await pkceChallenge(verifier)).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });

  it("asks managed login for a code, with the challenge, S256 and the state", () => {
    const url = authorizeUrl({ signInUrl: "https://drs.auth.us-east-1.amazoncognito.com", clientId: "abc123" }, "https://d1.cloudfront.net/", "E9Mel", "st8");
    expect(url.origin + url.pathname).toBe("https://drs.auth.us-east-1.amazoncognito.com/oauth2/authorize");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: "code",
      client_id: "abc123",
      redirect_uri: "https://d1.cloudfront.net/",
      scope: "openid email profile",
      code_challenge: "E9Mel",
      code_challenge_method: "S256",
      state: "st8",
    });
  });
});
