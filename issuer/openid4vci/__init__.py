"""The OpenID4VCI 1.0 credential issuer (pre-authorized code flow): metadata, token, nonce and
credential endpoints. A wallet redeems the offer a citizen made in the wallet service and gets
the licence as an SD-JWT VC (``credential.sd_jwt_vc_of_licence``) bound to its own key, with the
same status list entry as the COSE credential."""
