# Turn 60relaysync.ldif (389-ds' schema file format) into an LDIF modify
# that adds its definitions over LDAP (389-ds stores them in 99user.ldif):
#   awk -f 389ds-ldapmodify.awk 60relaysync.ldif |
#       ldapmodify -H ldaps://ldap.example.com -D "cn=Directory Manager" -W
/^#/ { next }
/^dn: / { print; print "changetype: modify"; next }
/^attributeTypes:/ && !types++ { print "add: attributeTypes" }
/^objectClasses:/ && !classes++ { if (types) print "-"; print "add: objectClasses" }
{ print }
END { print "-" }
