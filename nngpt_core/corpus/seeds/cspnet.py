"""CSPNet: each stage splits its channels; one part passes through residual blocks, the other skips, then both merge."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 32
DEPTH = 1
STAGES = 3
KERNEL = 3
ACTIVATION = nn.LeakyReLU
NORM = nn.BatchNorm2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class ConvBlock(nn.Module):
    def __init__(self, in_channels, channels, kernel_size=KERNEL, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.norm = NORM(channels)
        self.act = ACTIVATION()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = ConvBlock(channels, channels, 1)
        self.conv2 = ConvBlock(channels, channels)

    def forward(self, x):
        return x + self.conv2(self.conv1(x))


class CSPStage(nn.Module):
    def __init__(self, in_channels, channels, stride):
        super().__init__()
        half = channels // 2
        self.down = ConvBlock(in_channels, channels, KERNEL, stride)
        self.skip = ConvBlock(channels, half, 1)
        self.main = nn.Sequential(ConvBlock(channels, half, 1), *[ResidualBlock(half) for index in range(DEPTH)])
        self.merge = ConvBlock(half * 2, channels, 1)

    def forward(self, x):
        x = self.down(x)
        return self.merge(torch.cat([self.skip(x), self.main(x)], 1))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        stride = 2 if size >= 16 else 1
        size = size // stride
        channels = WIDTH
        self.stem = ConvBlock(in_channels, channels, KERNEL, stride)
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** stage
            stride = 2 if stage > 0 and size >= 4 else 1
            size = size // stride
            layers.append(CSPStage(channels, width, stride))
            channels = width
        self.body = nn.Sequential(*layers)
        self.pool = POOL(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(self.pool(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
