module github.com/netbios-go/netbios

go 1.26
