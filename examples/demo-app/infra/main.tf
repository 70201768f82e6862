# DEMO-VULN: public, unencrypted bucket and a security group open to the world.
resource "aws_s3_bucket" "uploads" {
  bucket = "demo-app-uploads"
}

resource "aws_s3_bucket_acl" "uploads" {
  bucket = aws_s3_bucket.uploads.id
  acl    = "public-read"
}

resource "aws_security_group" "web" {
  name = "demo-web"

  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
