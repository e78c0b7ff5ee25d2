package ssm

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	encasn1 "encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// identityDER builds and signs a device identity certificate: X.509 v3,
// ecdsa-with-SHA256, issued by the CA, key usage digitalSignature
// (critical), extended key usage clientAuth, authority key identifier.
//
// x509.CreateCertificate would do the same but then verifies its own
// signature, an ECDSA verification that cost as much as the rest of a
// registration's work on the manager; the tests check every certificate
// made here with crypto/x509 and openssl instead.
func identityDER(ca *x509.Certificate, caKey *ecdsa.PrivateKey, spki []byte, serial *big.Int, subject pkix.Name, notBefore, notAfter time.Time) ([]byte, error) {
	var (
		oidECDSAWithSHA256  = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
		oidKeyUsage         = encasn1.ObjectIdentifier{2, 5, 29, 15}
		oidExtKeyUsage      = encasn1.ObjectIdentifier{2, 5, 29, 37}
		oidAuthorityKeyID   = encasn1.ObjectIdentifier{2, 5, 29, 35}
		oidClientAuthKeyUse = encasn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	)
	subj, err := encasn1.Marshal(subject.ToRDNSequence())
	if err != nil {
		return nil, fmt.Errorf("encoding subject: %w", err)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1Int64(2) // v3
		})
		b.AddASN1BigInt(serial)
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidECDSAWithSHA256)
		})
		b.AddBytes(ca.RawSubject)
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			addTime(b, notBefore)
			addTime(b, notAfter)
		})
		b.AddBytes(subj)
		b.AddBytes(spki)
		b.AddASN1(asn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidKeyUsage)
					b.AddASN1Boolean(true)
					b.AddASN1(asn1.OCTET_STRING, func(b *cryptobyte.Builder) {
						// BIT STRING, 7 unused bits, digitalSignature.
						b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes([]byte{7, 0x80}) })
					})
				})
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidExtKeyUsage)
					b.AddASN1(asn1.OCTET_STRING, func(b *cryptobyte.Builder) {
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidClientAuthKeyUse)
						})
					})
				})
				if len(ca.SubjectKeyId) > 0 {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(oidAuthorityKeyID)
						b.AddASN1(asn1.OCTET_STRING, func(b *cryptobyte.Builder) {
							b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
								b.AddASN1(asn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(ca.SubjectKeyId) })
							})
						})
					})
				}
			})
		})
	})
	tbs, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding certificate: %w", err)
	}
	digest := sha256.Sum256(tbs)
	sig, err := ecdsa.SignASN1(rand.Reader, caKey, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	var c cryptobyte.Builder
	c.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidECDSAWithSHA256)
		})
		b.AddASN1BitString(sig)
	})
	return c.Bytes()
}

// addTime writes t as UTCTime before 2050 and GeneralizedTime after, as
// RFC 5280 asks.
func addTime(b *cryptobyte.Builder, t time.Time) {
	t = t.UTC().Truncate(time.Second)
	if t.Year() < 2050 && t.Year() >= 1950 {
		b.AddASN1UTCTime(t)
		return
	}
	b.AddASN1GeneralizedTime(t)
}
