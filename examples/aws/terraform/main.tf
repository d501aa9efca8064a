# The shop's VPC (examples/aws/describe is the same estate as the AWS CLI
# prints it). plan.json is `terraform show -json` of a plan of this file: the
# pull request adds a reporting instance (the last four resources).

data "aws_prefix_list" "s3" {
  name = "com.amazonaws.eu-west-1.s3"
}

resource "aws_vpc" "shop" {
  cidr_block = "10.0.0.0/16"
  tags       = { Name = "shop" }
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.shop.id
  cidr_block              = "10.0.1.0/24"
  availability_zone       = "eu-west-1a"
  map_public_ip_on_launch = true
  tags                    = { Name = "public", Tier = "public" }
}

resource "aws_subnet" "app" {
  vpc_id            = aws_vpc.shop.id
  cidr_block        = "10.0.2.0/24"
  availability_zone = "eu-west-1a"
  tags              = { Name = "app", Tier = "app" }
}

resource "aws_subnet" "data_a" {
  vpc_id            = aws_vpc.shop.id
  cidr_block        = "10.0.3.0/24"
  availability_zone = "eu-west-1a"
  tags              = { Name = "data-a", Tier = "data" }
}

resource "aws_subnet" "data_b" {
  vpc_id            = aws_vpc.shop.id
  cidr_block        = "10.0.4.0/24"
  availability_zone = "eu-west-1b"
  tags              = { Name = "data-b", Tier = "data" }
}

resource "aws_internet_gateway" "shop" {
  vpc_id = aws_vpc.shop.id
  tags   = { Name = "shop" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.shop.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.shop.id
  }
  tags = { Name = "shop-public" }
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

resource "aws_eip" "nat" {
  domain = "vpc"
}

resource "aws_nat_gateway" "shop" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public.id
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.shop.id
  route {
    cidr_block     = "0.0.0.0/0"
    nat_gateway_id = aws_nat_gateway.shop.id
  }
  tags = { Name = "shop-private" }
}

resource "aws_main_route_table_association" "private" {
  vpc_id         = aws_vpc.shop.id
  route_table_id = aws_route_table.private.id
}

resource "aws_security_group" "lb" {
  name        = "shop-lb"
  description = "public load balancer"
  vpc_id      = aws_vpc.shop.id
  ingress {
    from_port        = 443
    to_port          = 443
    protocol         = "tcp"
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = ["::/0"]
  }
  egress {
    from_port       = 8080
    to_port         = 8080
    protocol        = "tcp"
    security_groups = [aws_security_group.app.id]
  }
  tags = { Name = "shop-lb" }
}

resource "aws_security_group" "app" {
  name        = "shop-app"
  description = "application servers"
  vpc_id      = aws_vpc.shop.id
  tags        = { Name = "shop-app" }
}

resource "aws_vpc_security_group_ingress_rule" "app_from_lb" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.lb.id
  ip_protocol                  = "tcp"
  from_port                    = 8080
  to_port                      = 8080
}

resource "aws_vpc_security_group_ingress_rule" "app_ssh" {
  security_group_id = aws_security_group.app.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 22
  to_port           = 22
}

resource "aws_vpc_security_group_egress_rule" "app_to_s3" {
  security_group_id = aws_security_group.app.id
  prefix_list_id    = data.aws_prefix_list.s3.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "app_to_db" {
  security_group_id            = aws_security_group.app.id
  referenced_security_group_id = aws_security_group.db.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_security_group" "db" {
  name        = "shop-db"
  description = "orders database"
  vpc_id      = aws_vpc.shop.id
  ingress {
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.app.id]
  }
  tags = { Name = "shop-db" }
}

resource "aws_network_acl" "data" {
  vpc_id     = aws_vpc.shop.id
  subnet_ids = [aws_subnet.data_a.id, aws_subnet.data_b.id]
  ingress {
    rule_no    = 100
    action     = "allow"
    protocol   = "tcp"
    cidr_block = "10.0.2.0/24"
    from_port  = 5432
    to_port    = 5432
  }
  ingress {
    rule_no    = 200
    action     = "deny"
    protocol   = "-1"
    cidr_block = "10.0.1.0/24"
    from_port  = 0
    to_port    = 0
  }
  egress {
    rule_no    = 100
    action     = "allow"
    protocol   = "tcp"
    cidr_block = "10.0.2.0/24"
    from_port  = 1024
    to_port    = 65535
  }
  tags = { Name = "shop-data" }
}

resource "aws_instance" "lb" {
  ami                    = "ami-0d3b1c2a4e5f60001"
  instance_type          = "t3.small"
  subnet_id              = aws_subnet.public.id
  vpc_security_group_ids = [aws_security_group.lb.id]
  tags                   = { Name = "shop-lb", Role = "lb", Environment = "prod" }
}

resource "aws_instance" "app" {
  count                  = 2
  ami                    = "ami-0d3b1c2a4e5f60001"
  instance_type          = "t3.small"
  subnet_id              = aws_subnet.app.id
  vpc_security_group_ids = [aws_security_group.app.id]
  tags                   = { Name = "shop-app-${count.index + 1}", Role = "app", Environment = "prod" }
}

resource "aws_db_subnet_group" "data" {
  name       = "shop-data"
  subnet_ids = [aws_subnet.data_a.id, aws_subnet.data_b.id]
}

resource "aws_db_instance" "orders" {
  identifier             = "orders-db"
  engine                 = "postgres"
  engine_version         = "16.3"
  instance_class         = "db.t3.medium"
  allocated_storage      = 100
  availability_zone      = "eu-west-1a"
  db_subnet_group_name   = aws_db_subnet_group.data.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  storage_encrypted      = true
  tags                   = { Name = "orders-db", Role = "db", Environment = "prod" }
}

# --- the pull request: a reporting instance, SSH from anywhere, reading the database

resource "aws_security_group" "reporting" {
  name        = "shop-reporting"
  description = "reporting jobs"
  vpc_id      = aws_vpc.shop.id
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
  tags = { Name = "shop-reporting" }
}

resource "aws_instance" "reporting" {
  ami                    = "ami-0d3b1c2a4e5f60001"
  instance_type          = "t3.medium"
  subnet_id              = aws_subnet.public.id
  vpc_security_group_ids = [aws_security_group.reporting.id]
  tags                   = { Name = "shop-reporting", Role = "reporting", Environment = "prod" }
}

resource "aws_vpc_security_group_ingress_rule" "db_from_reporting" {
  security_group_id            = aws_security_group.db.id
  referenced_security_group_id = aws_security_group.reporting.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_network_acl_rule" "data_from_public" {
  network_acl_id = aws_network_acl.data.id
  rule_number    = 90
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "10.0.1.0/24"
  from_port      = 5432
  to_port        = 5432
}
